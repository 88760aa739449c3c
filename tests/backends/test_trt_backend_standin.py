"""``TrtBackend``'s buffer, stream and context logic through the recording stand-ins, on the CPU.

What is checked is the calls (shapes set, addresses bound, contexts pushed on the calling thread,
pinned host buffers, which CUDA API was taken), never the fused values: the stand-in runs no
engine (tests marked ``trt`` compare real outputs).
"""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest

from edgefuse.runtime import open_backend
from edgefuse.runtime.backends.trt_backend import TrtBackend
from edgefuse.engines import EngineConfig, build_engine
from edgefuse.errors import BackendUnavailableError, ConfigError, EngineBuildError
from tests.engines.standin import RecordingPyCuda, RecordingTensorRT, install, write_onnx_with_sidecar

pytest.importorskip("onnx")


@pytest.fixture
def rig(monkeypatch, tmp_path):
    """A stand-in TensorRT 10.12 + pycuda, and a 'plan' built from a dynamic graph with size rule 64."""
    trt, cuda = RecordingTensorRT("10.12.0"), RecordingPyCuda()
    install(monkeypatch, trt, cuda)
    monkeypatch.setitem(sys.modules, "cuda", None)  # no cuda-python: pycuda is taken
    plan = build_engine(write_onnx_with_sidecar(tmp_path), EngineConfig(precision="fp16", output=str(tmp_path / "d.plan")))
    return trt, cuda, plan


def test_size_rule_round_trip_pads_480x640_to_512x640(rig):
    trt, _, plan = rig
    with open_backend(engine=plan) as be:
        assert be.size_multiple == 64 and be.padded_size(480, 640) == (512, 640)
        vis, ir = np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.uint8)
        out = be.fuse_u8(vis, ir)
        assert out.shape == (480, 640, 3)  # cropped back; the values are not the stand-in's business
        assert be.versions()["cuda_api"] == "pycuda"
        assert be.peak_device_mb > 8  # engine memory + buffers, no device-wide memory query
    ((_, _, addresses),) = trt.called("IExecutionContext.execute_async_v3")
    assert set(addresses) == {"vis", "ir", "fused"}
    assert trt.profile_shapes["vis"][2] == [1, 3, 704, 1024]


def test_inference_from_another_thread_pushes_the_primary_context_there(rig):
    trt, cuda, plan = rig
    be = open_backend(engine=plan).open()
    errors = []

    def worker() -> None:
        try:
            be.infer(np.zeros((1, 3, 256, 320), np.float32), np.zeros((1, 1, 256, 320), np.float32))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert not errors, errors
    (tid, stream, _), = trt.called("IExecutionContext.execute_async_v3")
    assert tid == t.ident and stream == 0xBEEF
    assert ("push", t.ident) in cuda.events and ("pop", t.ident) in cuda.events
    assert ("pagelocked", t.ident) in cuda.events  # pinned host buffers
    # the control: the same work without the context on that thread fails like pycuda does
    t2 = threading.Thread(target=lambda: errors.append(_raw_run(be)))
    t2.start()
    t2.join()
    assert isinstance(errors[-1], RuntimeError) and "invalid device context" in str(errors[-1])
    be.close()
    assert ("detach", threading.get_ident()) in cuda.events


def _raw_run(be: TrtBackend) -> Exception | None:
    try:
        be._run({"vis": np.zeros((1, 3, 256, 320), np.float32), "ir": np.zeros((1, 1, 256, 320), np.float32)})
    except Exception as e:  # noqa: BLE001
        return e
    return None


def test_a_shape_outside_the_profile_is_refused(rig):
    _, _, plan = rig
    with open_backend(engine=plan) as be, pytest.raises(EngineBuildError, match="outside the engine's profiles"):
        be.infer(np.zeros((1, 3, 1088, 1920), np.float32), np.zeros((1, 1, 1088, 1920), np.float32))


def test_device_is_honoured_or_refused(rig):
    _, _, plan = rig
    assert open_backend(engine=plan, device="cuda:1").device == "cuda:1"
    with open_backend(engine=plan) as be:
        assert be.describe()["device"] == "cuda:0"  # the report says where it ran
    with pytest.raises(ConfigError, match="runs on a CUDA GPU"):
        open_backend(engine=plan, device="cpu")


def _cuda_python_with_old_driver(monkeypatch):
    class Err:
        def __int__(self) -> int:
            return 35

        def __repr__(self) -> str:
            return "cudaErrorInsufficientDriver"

    rt = types.ModuleType("cuda.bindings.runtime")
    rt.cudaSetDevice = lambda i: (Err(),)  # type: ignore[attr-defined]
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt  # type: ignore[attr-defined]
    pkg = types.ModuleType("cuda")
    pkg.bindings = bindings  # type: ignore[attr-defined]
    for name, mod in (("cuda", pkg), ("cuda.bindings", bindings), ("cuda.bindings.runtime", rt)):
        monkeypatch.setitem(sys.modules, name, mod)


def test_a_driver_error_from_cuda_python_falls_back_to_pycuda(rig, monkeypatch):
    _, _, plan = rig
    _cuda_python_with_old_driver(monkeypatch)
    with open_backend(engine=plan) as be:
        assert be.versions()["cuda_api"] == "pycuda"


def test_no_cuda_api_names_both_reasons(rig, monkeypatch):
    _, _, plan = rig
    _cuda_python_with_old_driver(monkeypatch)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    from edgefuse.runtime.backends.trt_backend import cuda_api

    with pytest.raises(BackendUnavailableError, match="cuda-python: EngineBuildError.*InsufficientDriver.*pycuda"):
        cuda_api(0)


def test_cuda_python_selects_the_device_on_the_inferring_thread_and_copies_from_pinned_memory(monkeypatch, tmp_path):
    from tests.engines.standin import RecordingCudaRuntime, install_cuda_python

    trt, rt = RecordingTensorRT("11.4.1"), RecordingCudaRuntime()
    install(monkeypatch, trt)
    install_cuda_python(monkeypatch, trt, rt)
    onnx = write_onnx_with_sidecar(tmp_path)
    plan = build_engine(onnx, EngineConfig(precision="fp16", output=str(tmp_path / "d.plan")))
    be = open_backend(engine=plan, device="cuda:1").open()
    assert be.versions()["cuda_api"] == "cuda-python"
    feeds = (np.zeros((1, 3, 256, 320), np.float32), np.zeros((1, 1, 256, 320), np.float32))
    errors: list[Exception] = []

    def worker() -> None:
        try:
            be.infer(*feeds)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert not errors, errors
    mine = [(call, dev) for call, tid, dev in rt.events if tid == t.ident]
    assert mine[0] == ("cudaSetDevice", 1) and ("cudaMemcpyAsync", 1) in mine  # pinned copies on device 1
    (tid, _, _), = trt.called("IExecutionContext.execute_async_v3")
    assert tid == t.ident
    t2 = threading.Thread(target=lambda: errors.append(_raw_run(be)))  # the control: no device selection
    t2.start()
    t2.join()
    assert isinstance(errors[-1], EngineBuildError) and "CUDA runtime call failed: 400" in str(errors[-1])
    be.close()


def test_io_specs_before_open_come_from_the_sidecar_without_deserializing(rig):
    trt, _, plan = rig
    be = open_backend(engine=plan)
    specs = [s.to_dict() for s in be.input_specs + be.output_specs]
    assert be.engine is None and not trt.called("Runtime.deserialize_cuda_engine")  # no side effect
    assert [s["name"] for s in specs] == ["vis", "ir", "fused"] and be.static_hw is None  # a dynamic plan
    with be:
        assert [s.name for s in be.input_specs] == ["vis", "ir"]
