"""The torch backend on a CUDA GPU: FP32, FP16 and CUDA graphs give the CPU's image (run where a GPU is)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgefuse.runtime import open_backend
from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.fusion import DEFAULT_MODEL

SAMPLES = Path(__file__).resolve().parents[2] / "edgefuse" / "assets" / "samples" / "ivf"

pytestmark = pytest.mark.gpu


def _sample() -> tuple[np.ndarray, np.ndarray]:
    pair = load_pair(find_pairs(SAMPLES)[0])
    vis = pair.vis.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    ir = pair.ir[None, None].astype(np.float32) / 255.0
    return vis, ir


@pytest.mark.parametrize(("precision", "graphs", "tol"), [("fp32", False, 1e-3), ("fp16", False, 2e-2),
                                                          ("fp16", True, 2e-2), ("fp32", True, 1e-3)])
def test_cuda_matches_cpu(precision: str, graphs: bool, tol: float) -> None:
    vis, ir = _sample()
    with open_backend(model=DEFAULT_MODEL) as cpu:
        ref = cpu.infer(vis, ir)
    with open_backend(model=DEFAULT_MODEL, device="cuda", precision=precision, cuda_graphs=graphs) as gpu:
        first = gpu.infer(vis, ir)
        again = gpu.infer(vis, ir)  # with graphs: the replay, not the capture
        stages = gpu.last_stages_ms
    assert first.dtype == np.float32
    assert np.abs(first - ref).max() <= tol
    assert np.abs(again - first).max() <= 1e-6
    assert set(stages) >= {"h2d", "compute", "d2h"}
