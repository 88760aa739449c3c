"""TensorRT build and run (only where TensorRT and a CUDA GPU exist; skipped elsewhere).

Engines run through ``TrtBackend`` (cuda-python or pycuda, pinned buffers), not through torch
tensors, and are compared with ONNX Runtime FP32. Covered here and nowhere on the CPU: a real
plan's inspector output, a profile taken from the ONNX sidecar, a size rule > 1 (dtpf_student,
multiples of 64) at 480x640, hardware compatibility, a non-empty and a foreign timing cache,
inference from a second thread, pycuda, DLA where the device has one, and the ORT CUDA/TensorRT
EPs with IO binding. The GPU is probed through edgefuse's own probes (torch.cuda, cuda-python,
pycuda), so a JetPack host with a CPU-only torch runs these too.
"""

from __future__ import annotations

import importlib.util
import json
import threading

import numpy as np
import pytest

from edgefuse.errors import BackendUnavailableError, EngineBuildError

pytestmark = pytest.mark.trt

H, W = 64, 96


@pytest.fixture(autouse=True, scope="module")
def _gpu() -> None:
    from edgefuse.runtime.trt.device import gpu_info

    try:
        gpu_info()
    except BackendUnavailableError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def calib_dir_module(tmp_path_factory):
    from tests.helpers import write_pair_dataset

    return write_pair_dataset(tmp_path_factory.mktemp("calib") / "train", [f"p{i:02d}" for i in range(10)], 72, 112)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, calib_dir_module):
    from edgefuse.export import ExportConfig, run_export
    from edgefuse.models.checkpoint import save_checkpoint
    from tests.export.conftest import randomised_nano

    root = tmp_path_factory.mktemp("trt")
    ckpt = save_checkpoint(randomised_nano(), root / "nano.safetensors", "edge_nano")
    cfg = ExportConfig(weights=str(ckpt), height=H, width=W, precision="int8", calib=str(calib_dir_module),
                       calib_samples=8, parity_pairs=1, out=str(root / "out"), engine_dir=str(root / "engines"))
    return run_export(cfg)


def _feeds(h: int = H, w: int = W) -> dict[str, np.ndarray]:
    from edgefuse.export.calibration import to_feeds
    from tests.helpers import textured

    vis = np.stack([textured(h, w, seed=k) for k in range(3)], axis=2)
    return to_feeds(vis, textured(h, w, seed=7))


def _build(onnx, tmp_path, precision, **cfg):
    from edgefuse.engines import EngineConfig, build_engine

    return build_engine(onnx, EngineConfig(precision=precision, output=str(tmp_path / f"m_{precision}.plan"),
                                           workspace_mb=512, **cfg))


def _run(plan, feeds):
    from edgefuse.runtime import open_backend

    with open_backend(engine=plan) as be:
        return be.infer(feeds["vis"], feeds["ir"])


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_and_run_through_the_backend(exported, precision, tmp_path):
    from edgefuse.engines import tensorrt_version
    from edgefuse.export._ort import session

    plan = _build(exported.artefacts[precision], tmp_path, precision, timing_cache=str(tmp_path / "timing.cache"))
    doc = json.loads(plan.with_name(plan.name + ".json").read_text())
    assert doc["tensorrt"] == tensorrt_version() and doc["precision"] == precision and doc["gpu"]["compute_capability"]
    assert (tmp_path / "timing.cache").stat().st_size > 0
    assert not plan.read_bytes().startswith(b"{")  # plain plan, no JSON header
    feeds = _feeds()
    got = _run(plan, feeds)
    ref = session(exported.artefacts["fp32"]).run(None, feeds)[0]
    tol = {"fp32": 1e-3, "fp16": 2e-2, "int8": 1e-1}[precision]
    assert np.isfinite(got).all() and np.abs(got - ref).max() <= tol


def test_a_non_empty_and_a_foreign_timing_cache(exported, tmp_path):
    cache = tmp_path / "timing.cache"
    _build(exported.artefacts["fp32"], tmp_path, "fp32", timing_cache=str(cache))
    first = cache.read_bytes()
    _build(exported.artefacts["fp32"], tmp_path, "fp32", timing_cache=str(cache))  # read back, accepted
    assert cache.stat().st_size >= len(first)
    cache.write_bytes(first[: len(first) // 2] + bytes(64))  # corrupted
    with pytest.raises(EngineBuildError, match="rejected the timing cache"):
        _build(exported.artefacts["fp32"], tmp_path / "x", "fp32", timing_cache=str(cache))
    assert not (tmp_path / "x" / "m_fp32.plan").exists()


def test_inspect_a_real_plan(exported, tmp_path):
    from edgefuse.engines import inspect_file

    report = inspect_file(_build(exported.artefacts["int8"], tmp_path, "int8"))
    assert report["compatible"] and {t["name"] for t in report["io"]} == {"vis", "ir", "fused"}
    assert report["layers"] and all("name" in layer for layer in report["layers"])


def test_inference_from_a_second_thread(exported, tmp_path):
    from edgefuse.runtime import open_backend

    plan = _build(exported.artefacts["fp32"], tmp_path, "fp32")
    feeds, out = _feeds(), {}
    with open_backend(engine=plan) as be:
        here = be.infer(feeds["vis"], feeds["ir"])
        t = threading.Thread(target=lambda: out.setdefault("y", be.infer(feeds["vis"], feeds["ir"])))
        t.start()
        t.join()
    assert np.abs(out["y"] - here).max() == 0


@pytest.mark.skipif(importlib.util.find_spec("pycuda") is None, reason="pycuda is not installed")
def test_pycuda_path(exported, tmp_path, monkeypatch):
    from edgefuse.runtime import open_backend
    from edgefuse.runtime.backends import trt_backend

    monkeypatch.setattr(trt_backend, "CUDA_APIS", (trt_backend._PyCuda,))
    plan = _build(exported.artefacts["fp32"], tmp_path, "fp32")
    with open_backend(engine=plan) as be:
        assert be.versions()["cuda_api"] == "pycuda"
        t = threading.Thread(target=lambda: be.infer(_feeds()["vis"], _feeds()["ir"]))
        t.start()
        t.join()
        assert be.last_latency_ms is not None


def test_dynamic_dtpf_engine_at_480x640_with_the_sidecar_profile(tmp_path):
    """dtpf_student needs multiples of 64: the engine sidecar's size rule pads 480x640 to 512x640."""
    from edgefuse.runtime import open_backend
    from edgefuse.runtime.sidecars import write_sidecar
    from edgefuse.export.onnx import export_onnx
    from edgefuse.models import create_model

    onnx = export_onnx(create_model("dtpf_student").eval(), tmp_path / "d.onnx", 0, 0,
                       dynamic=((256, 320), (512, 640), (512, 640)))
    write_sidecar(onnx, kind="onnx", precision="fp32", shapes={"min": [256, 320], "opt": [512, 640], "max": [512, 640]},
                  size_rule={"multiple": 64})
    plan = _build(onnx, tmp_path, "fp32")  # no --profile: taken from the ONNX sidecar
    with open_backend(engine=plan) as be:
        assert be.size_multiple == 64
        out = be.fuse_u8(np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.uint8))
    assert out.shape == (480, 640, 3)


def test_hardware_compatible_engine(exported, tmp_path):
    from edgefuse.engines import check_engine, tensorrt_version
    from edgefuse.runtime.trt.device import gpu_info

    if float(gpu_info()["compute_capability"]) < 8.0:
        pytest.skip("hardware compatibility needs Ampere or newer")
    level = "same_compute_capability" if tuple(map(int, tensorrt_version().split(".")[:2])) >= (10, 9) \
        else "ampere_plus"
    plan = _build(exported.artefacts["fp32"], tmp_path, "fp32", hardware_compat=level)
    doc = check_engine(plan)
    assert doc["hardware_compat"] == level and doc["hardware_compat_applied"]
    assert np.isfinite(_run(plan, _feeds())).all()


def test_dla_where_there_is_one(exported, tmp_path):
    import tensorrt as trt

    if trt.Builder(trt.Logger(trt.Logger.WARNING)).num_DLA_cores == 0:
        pytest.skip("no DLA on this device")
    plan = _build(exported.artefacts["fp16"], tmp_path, "fp16", dla_core=0)
    assert np.isfinite(_run(plan, _feeds())).all()


@pytest.mark.parametrize("device", ["cuda", "tensorrt"])
def test_ort_gpu_providers_with_io_binding(exported, device):
    ort = pytest.importorskip("onnxruntime")
    from edgefuse.runtime import open_backend

    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[device]
    if wanted not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime has no {wanted}")
    feeds = _feeds()
    with open_backend(onnx=exported.artefacts["fp32"], device=device) as be, \
            open_backend(onnx=exported.artefacts["fp32"]) as cpu:
        assert be.providers[0] == wanted  # checked at open: a fallback raises
        assert np.abs(be.infer(feeds["vis"], feeds["ir"]) - cpu.infer(feeds["vis"], feeds["ir"])).max() <= 1e-3


def test_foreign_engine_refused(exported, tmp_path):
    from edgefuse.engines import check_engine

    plan = _build(exported.artefacts["fp32"], tmp_path, "fp32")
    sidecar = plan.with_name(plan.name + ".json")
    doc = json.loads(sidecar.read_text())
    doc["tensorrt"] = "9.0.0"
    sidecar.write_text(json.dumps(doc))
    with pytest.raises(EngineBuildError, match="Rebuild it here"):
        check_engine(plan)


def test_the_api_table_matches_the_installed_bindings():
    import tensorrt as trt

    from edgefuse.runtime.trt.trt_api import names_in

    missing = []
    for name in sorted(names_in(trt.__version__)):
        owner, _, attr = name.partition(".")
        obj = getattr(trt, owner, None)
        if obj is None or (attr and not hasattr(obj, attr)):
            missing.append(name)
    assert not missing, f"TensorRT {trt.__version__} lacks {missing}: update edgefuse/runtime/trt/trt_api.py"
