"""TensorRT build and run (only where TensorRT and a CUDA GPU exist; skipped elsewhere).

Each test builds a small edge_nano engine from the exported ONNX, checks the plan is plain (no
header: TensorRT deserializes the file bytes as they are), the sidecar and the guard, and runs it
against ONNX Runtime FP32.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgefuse.errors import EngineBuildError

pytestmark = [pytest.mark.trt, pytest.mark.gpu]

H, W = 64, 96


@pytest.fixture(scope="module")
def exported(tmp_path_factory, calib_dir_module):
    from edgefuse.export import ExportConfig, run_export
    from tests.export.conftest import randomised_nano
    from edgefuse.models.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("trt")
    ckpt = save_checkpoint(randomised_nano(), root / "nano.safetensors", "edge_nano")
    cfg = ExportConfig(weights=str(ckpt), height=H, width=W, precision="int8", calib=str(calib_dir_module),
                       calib_samples=8, parity_pairs=1, out=str(root / "out"), engine_dir=str(root / "engines"))
    return run_export(cfg)


@pytest.fixture(scope="module")
def calib_dir_module(tmp_path_factory):
    from tests.helpers import write_pair_dataset

    return write_pair_dataset(tmp_path_factory.mktemp("calib") / "train", [f"p{i:02d}" for i in range(10)], 72, 112)


def _run_engine(plan, feeds):
    import torch

    from edgefuse.engines import load_engine

    engine = load_engine(plan)
    context = engine.create_execution_context()
    tensors = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if name in feeds:
            tensors[name] = torch.from_numpy(feeds[name]).cuda().contiguous()
            context.set_input_shape(name, tuple(feeds[name].shape))
    out = torch.empty((1, 3, H, W), device="cuda", dtype=torch.float32)
    tensors["fused"] = out
    for name, t in tensors.items():
        context.set_tensor_address(name, t.data_ptr())
    stream = torch.cuda.current_stream()
    assert context.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    return out.cpu().numpy()


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_and_run(exported, precision, tmp_path):
    from edgefuse.engines import EngineConfig, build_engine, tensorrt_version
    from edgefuse.export._ort import session
    from edgefuse.export.calibration import to_feeds
    from tests.helpers import textured

    major = int(tensorrt_version().split(".")[0])
    onnx = exported.artefacts[precision]
    if precision == "fp16" and major < 11:
        onnx = exported.artefacts["fp32"]  # TensorRT 10: FP32 graph + FP16 builder flag
    plan = build_engine(onnx, EngineConfig(precision=precision, output=str(tmp_path / f"m_{precision}.plan"),
                                           timing_cache=str(tmp_path / "timing.cache"), workspace_mb=512))
    doc = json.loads((tmp_path / f"m_{precision}.plan.json").read_text())
    assert doc["tensorrt"] == tensorrt_version() and doc["precision"] == precision and doc["gpu"]["compute_capability"]
    assert (tmp_path / "timing.cache").is_file()
    assert not plan.read_bytes().startswith(b"{")  # plain plan, no JSON header
    vis = np.stack([textured(H, W, seed=k) for k in range(3)], axis=2)
    feeds = to_feeds(vis, textured(H, W, seed=7))
    got = _run_engine(plan, feeds)
    ref = session(exported.artefacts["fp32"]).run(None, feeds)[0]
    tol = {"fp32": 1e-3, "fp16": 2e-2, "int8": 1e-1}[precision]
    assert np.isfinite(got).all() and np.abs(got - ref).max() <= tol


def test_foreign_engine_refused(exported, tmp_path):
    from edgefuse.engines import EngineConfig, build_engine, check_engine

    plan = build_engine(exported.artefacts["fp32"], EngineConfig(precision="fp32", output=str(tmp_path / "m.plan")))
    sidecar = tmp_path / "m.plan.json"
    doc = json.loads(sidecar.read_text())
    doc["tensorrt"] = "9.0.0"
    sidecar.write_text(json.dumps(doc))
    with pytest.raises(EngineBuildError, match="Rebuild it here"):
        check_engine(plan)
