"""``benchmarks/gpu_trt_check.py --dry-run`` works without TensorRT and lists a check for each GPU-only defect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_trt_check.py"


def test_dry_run_lists_every_gpu_defect():
    r = subprocess.run([sys.executable, str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    defects = {d for line in r.stdout.splitlines() for d in line.split()[2].split(",")}
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "13", "14", "15"} <= defects
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert len(names) == len(set(names)) and "pycuda_second_thread" in names and "timing_cache" in names


def test_without_tensorrt_it_says_so():
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed")
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "TensorRT is not installed" in r.stderr
