"""What machine a number was measured on: the one CPU-information helper every benchmark records."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any

# instruction-set extensions that change CPU inference speed (ONNX Runtime/PyTorch pick kernels by them)
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    key, value = (p.strip() for p in line.split(":", 1))
                    fields.setdefault(key, value)  # the first processor's entry
    except OSError:
        pass
    return fields


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` knows."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_info() -> dict[str, Any]:
    """CPU model, logical cores, machine and the speed-relevant instruction-set flags present."""
    present = set(_cpuinfo().get("flags", "").split())
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "machine": platform.machine(),
            "flags": {f: f in present for f in FLAGS}}


def int8_units() -> str:
    """Which INT8 dot-product units the CPU has, in words (what INT8 speed-ups depend on)."""
    flags = cpu_info()["flags"]
    if not _cpuinfo():
        return "unknown"
    have = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8") if flags[f]]
    return ", ".join(have) if have else "no VNNI (" + ("AVX-512" if flags["avx512f"] else "AVX2") + " only)"
