"""ONNX Runtime providers: the TensorRT EP's options, and a session that fell back is refused (ORT on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from edgefuse.runtime.backends.ort_backend import OrtBackend, check_providers, provider_options
from edgefuse.errors import BackendUnavailableError
from tests.engines.standin import write_onnx_with_sidecar

ort = pytest.importorskip("onnxruntime")


def test_tensorrt_ep_options_follow_the_artefact_precision(tmp_path):
    for precision, fp16, int8 in (("fp32", "False", "False"), ("fp16", "True", "False"), ("int8", "True", "True")):
        (name, opts), (cuda, _), (cpu, _) = provider_options("tensorrt", precision, tmp_path)
        assert (name, cuda, cpu) == ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
        assert opts["trt_fp16_enable"] == fp16 and opts["trt_int8_enable"] == int8
        assert opts["trt_engine_cache_enable"] == "True" and opts["trt_engine_cache_path"] == str(tmp_path)
        assert opts["trt_timing_cache_enable"] == "True"
    assert provider_options("cpu", "fp32", tmp_path) == [("CPUExecutionProvider", {})]


def test_check_providers():
    check_providers("tensorrt", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(BackendUnavailableError, match="runs on CUDAExecutionProvider, CPUExecutionProvider"):
        check_providers("tensorrt", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(BackendUnavailableError, match="did not take CUDAExecutionProvider"):
        check_providers("cuda", ["CPUExecutionProvider"])


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_a_session_that_silently_fell_back_is_refused(tmp_path, monkeypatch):
    """ORT on the CPU is told the TensorRT and CUDA EPs exist: it builds the session on the CPU, quietly."""
    path = write_onnx_with_sidecar(tmp_path, "m", multiple=1)
    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", *real])
    with pytest.raises(BackendUnavailableError, match="did not take TensorrtExecutionProvider.*CPUExecutionProvider"):
        OrtBackend(path, device="tensorrt").open()


def test_the_cpu_session_takes_the_provider_list_with_options(tmp_path):
    path = write_onnx_with_sidecar(tmp_path, "m", multiple=1)
    with OrtBackend(path, device="cpu") as be:
        assert be.providers == ["CPUExecutionProvider"]
        out = be.infer(np.zeros((1, 3, 8, 8), np.float32), np.ones((1, 1, 8, 8), np.float32))
    assert out.shape == (1, 3, 8, 8)
