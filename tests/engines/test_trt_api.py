"""The TensorRT name table: what each version has, and that the code uses no name outside it."""

from __future__ import annotations

import re
from pathlib import Path

from edgefuse.runtime.trt.trt_api import NAMES, has, names_in

PKG = Path(__file__).resolve().parents[2] / "edgefuse"
OWNERS = {"builder": "Builder", "config": "IBuilderConfig", "network": "INetworkDefinition", "parser": "OnnxParser",
          "profile": "IOptimizationProfile", "engine": "ICudaEngine", "context": "IExecutionContext",
          "runtime": "Runtime", "layer": "ILayer", "cache": "ITimingCache"}


def test_weak_typing_names_are_gone_in_11_and_versioned_names_start_where_the_bindings_do():
    gone = {"BuilderFlag.FP16", "BuilderFlag.INT8", "BuilderFlag.OBEY_PRECISION_CONSTRAINTS", "ILayer.precision",
            "ILayer.set_output_type", "ICudaEngine.device_memory_size"}
    assert gone <= names_in("10.16") and not gone & names_in("11.1")
    assert not has("HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY", "10.8")
    assert has("HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY", "10.9.0.34")
    assert not has("ICudaEngine.device_memory_size_v2", "10.0") and has("ICudaEngine.device_memory_size_v2", "10.1")


def _uses(path: Path, start: str = "", skip: tuple[str, ...] = ()) -> set[str]:
    text = path.read_text()
    text = text[text.index(start):] if start else text
    text = re.sub(r"\bedgefuse(\.\w+)+", "", text)  # module paths (edgefuse.runtime.x) are not TensorRT objects
    found = {".".join(filter(None, m.groups())) for m in re.finditer(r"\btrt\.(\w+)(?:\.([A-Za-z_]\w*))?", text)}
    for var, owner in OWNERS.items():
        if var in skip:
            continue
        found |= {f"{owner}.{m.group(1)}" for m in re.finditer(rf"\b(?:self\.)?{var}\.([A-Za-z_]\w*)", text)}
    return found


def test_the_tensorrt_code_uses_only_names_in_the_table():
    used = (_uses(PKG / "engines" / "build.py") | _uses(PKG / "runtime" / "trt" / "guard.py")
            | _uses(PKG / "engines" / "inspect.py", skip=("layer",))  # there a layer is the inspector's JSON
            | _uses(PKG / "runtime" / "backends" / "trt_backend.py", "class TrtBackend"))
    owners = {n.split(".")[0] for n in NAMES}
    unknown = sorted(n for n in used if n not in NAMES and n not in owners)
    assert not unknown, f"add these to edgefuse/runtime/trt/trt_api.py (with the versions that have them): {unknown}"
    assert {"IBuilderConfig.set_timing_cache", "IExecutionContext.execute_async_v3", "ILayer.set_output_type"} <= used
