"""The TensorRT backend (runs only where TensorRT, cuda-python or pycuda, and a CUDA GPU exist).

Builds the shipped student's engine at a small static size and a dynamic one, runs them through
``TrtBackend`` and compares with the torch backend; checks that a foreign engine is refused with
the rebuild command.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgefuse.errors import EngineBuildError, ShapeMismatchError

pytestmark = [pytest.mark.trt]  # the GPU is probed through edgefuse's own probes, not torch.cuda


@pytest.fixture(autouse=True, scope="module")
def _gpu() -> None:
    from edgefuse.runtime.trt.device import gpu_info
    from edgefuse.errors import BackendUnavailableError

    try:
        gpu_info()
    except BackendUnavailableError as e:
        pytest.skip(str(e))

H, W = 64, 96


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from edgefuse.export.onnx import export_onnx
    from edgefuse.fusion import DEFAULT_MODEL, shipped_models
    from edgefuse.models.checkpoint import load_checkpoint

    model, _ = load_checkpoint(shipped_models()[DEFAULT_MODEL])
    from edgefuse.export.fp16 import convert_fp16

    root = tmp_path_factory.mktemp("trt_backend")
    static = export_onnx(model, root / "s.onnx", H, W)
    convert_fp16(static, root / "s_fp16.onnx")  # FP16 engines come from the FP16 graph (strong typing)
    return {"static": static, "static_fp16": root / "s_fp16.onnx",
            "dynamic": export_onnx(model, root / "d.onnx", 0, 0, dynamic=((32, 32), (H, W), (128, 160)))}


def _plan(onnx: Path, precision: str, out: Path, profile: str | None = None) -> Path:
    from edgefuse.engines import EngineConfig, build_engine

    return build_engine(onnx, EngineConfig(precision=precision, output=str(out), workspace_mb=512, profile=profile))


def _pair(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.random((1, 3, h, w), dtype=np.float32), rng.random((1, 1, h, w), dtype=np.float32)


@pytest.mark.parametrize("precision,tol", [("fp32", 1e-3), ("fp16", 2e-2)])
def test_trt_backend_matches_torch(onnx_files: dict[str, Path], tmp_path: Path, precision: str, tol: float) -> None:
    from edgefuse.runtime import open_backend

    onnx = onnx_files["static_fp16" if precision == "fp16" else "static"]
    plan = _plan(onnx, precision, tmp_path / f"s_{precision}.plan")
    vis, ir = _pair(H, W)
    with open_backend(engine=plan) as be, open_backend() as ref:
        assert be.name == "tensorrt" and be.static_hw == (H, W)
        got, want = be.infer(vis, ir), ref.infer(vis, ir)
        assert set(be.last_stages_ms) == {"pre", "h2d", "compute", "d2h", "post"}
        assert be.peak_device_mb > 0
        with pytest.raises(ShapeMismatchError, match="static shape"):
            be.infer(*_pair(32, 32))
    assert np.isfinite(got).all() and np.abs(got - want).max() <= tol


def test_trt_backend_dynamic_profile(onnx_files: dict[str, Path], tmp_path: Path) -> None:
    from edgefuse.runtime import open_backend

    plan = _plan(onnx_files["dynamic"], "fp32", tmp_path / "d.plan", profile=f"32x32:{H}x{W}:128x160")
    with open_backend(engine=plan) as be, open_backend() as ref:
        for h, w in ((32, 32), (H, W), (96, 128)):
            vis, ir = _pair(h, w)
            assert np.abs(be.infer(vis, ir) - ref.infer(vis, ir)).max() <= 1e-3


def test_trt_backend_refuses_a_foreign_engine(onnx_files: dict[str, Path], tmp_path: Path) -> None:
    from edgefuse.runtime import open_backend

    plan = _plan(onnx_files["static"], "fp32", tmp_path / "f.plan")
    sidecar = tmp_path / "f.plan.json"
    doc = json.loads(sidecar.read_text())
    doc["tensorrt"] = "9.0.0"
    sidecar.write_text(json.dumps(doc))
    with pytest.raises(EngineBuildError, match="edgefuse build --onnx"):
        open_backend(engine=plan).open()
