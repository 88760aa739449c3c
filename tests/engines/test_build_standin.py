"""``build_engine`` and the guard driven through the recording TensorRT stand-in, on the CPU.

The stand-in exposes only the real binding names of the version under test, so these tests fail
when the build code calls a name TensorRT 10.3 / 10.9 / 10.12 / 11.4 does not have, or forgets a
call the plan asks for. No engine is built: nothing here checks numbers (tests marked ``trt`` do).
"""

from __future__ import annotations

import json

import pytest

from edgefuse.engines import EngineConfig, build_engine, check_engine
from edgefuse.errors import ConfigError, EngineBuildError
from tests.engines.standin import PLAN_MARKER, RecordingPyCuda, RecordingTensorRT, install, write_onnx_with_sidecar

pytest.importorskip("onnx")


@pytest.fixture
def fp16_onnx(tmp_path):
    return write_onnx_with_sidecar(tmp_path)


def _build(monkeypatch, tmp_path, version, onnx, **cfg):
    trt = RecordingTensorRT(version)
    install(monkeypatch, trt, RecordingPyCuda())  # the GPU is found through pycuda (no torch.cuda here)
    out = tmp_path / "e" / "m.plan"
    return trt, build_engine(onnx, EngineConfig(output=str(out), **cfg))


@pytest.mark.parametrize("version", ["10.12.0", "10.16.1", "11.4.1"])
def test_strongly_typed_fp16_with_the_sidecar_profile_and_size_rule(monkeypatch, tmp_path, fp16_onnx, version):
    trt, plan = _build(monkeypatch, tmp_path, version, fp16_onnx, precision="fp16")
    assert plan.read_bytes() == PLAN_MARKER
    assert trt.called("Builder.create_network")[0] != 0  # STRONGLY_TYPED
    assert trt.called("IBuilderConfig.set_flag") == []
    assert not trt.called("ILayer.set_output_type")
    assert sorted(a[0] for a in trt.called("IOptimizationProfile.set_shape")) == ["ir", "vis"]
    doc = json.loads((plan.parent / "m.plan.json").read_text())
    assert doc["size_rule"]["multiple"] == 64 and doc["strongly_typed"] and doc["tensorrt"] == version
    assert doc["gpu"] == {"name": "Orin", "compute_capability": "8.7"}
    assert doc["profiles"][0]["vis"]["max"] == [1, 3, 704, 1024]


def test_weakly_typed_fp16_on_10_3_pins_the_sidecar_islands(monkeypatch, tmp_path, fp16_onnx):
    trt, plan = _build(monkeypatch, tmp_path, "10.3.0", fp16_onnx, precision="fp16", strongly_typed=False)
    assert trt.called("Builder.create_network") == [0]
    assert trt.called("IBuilderConfig.set_flag") == ["BuilderFlag.FP16", "BuilderFlag.OBEY_PRECISION_CONSTRAINTS"]
    assert [a[0] for a in trt.called("ILayer.set_output_type")] == ["/blk/Add"]
    assert json.loads((plan.parent / "m.plan.json").read_text())["pinned_fp32_layers"] == 1


def test_weak_names_do_not_exist_on_11(monkeypatch):
    trt = RecordingTensorRT("11.4.1")
    with pytest.raises(AttributeError):
        trt.BuilderFlag.FP16  # noqa: B018
    assert RecordingTensorRT("10.16.1").BuilderFlag.FP16


def test_same_compute_capability_is_set_on_the_config(monkeypatch, tmp_path, fp16_onnx):
    trt, plan = _build(monkeypatch, tmp_path, "10.9.0", fp16_onnx, precision="fp16",
                       hardware_compat="same_compute_capability")
    (level,) = trt.called("IBuilderConfig.hardware_compatibility_level=")
    assert repr(level) == "HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY"
    doc = json.loads((plan.parent / "m.plan.json").read_text())
    assert doc["hardware_compat_applied"]
    assert check_engine(plan, "10.9.0", {"name": "Orin NX", "compute_capability": "8.7"})
    with pytest.raises(ConfigError, match="10.9 or newer"):
        _build(monkeypatch, tmp_path, "10.8.0", fp16_onnx, precision="fp16", hardware_compat="same_compute_capability")


def test_a_foreign_timing_cache_stops_the_build_before_anything_is_written(monkeypatch, tmp_path, fp16_onnx):
    cache = tmp_path / "t.cache"
    cache.write_bytes(b"gpu-b:timings")  # made on another GPU
    with pytest.raises(EngineBuildError, match="rejected the timing cache"):
        _build(monkeypatch, tmp_path, "10.12.0", fp16_onnx, precision="fp16", timing_cache=str(cache))
    assert not (tmp_path / "e" / "m.plan").exists() and not (tmp_path / "e" / "m.plan.json").exists()
    assert cache.read_bytes() == b"gpu-b:timings"


def test_timing_cache_round_trip_and_a_missing_cache_after_the_build(monkeypatch, tmp_path, fp16_onnx):
    cache = tmp_path / "t.cache"
    trt, plan = _build(monkeypatch, tmp_path, "10.12.0", fp16_onnx, precision="fp16", timing_cache=str(cache))
    assert trt.called("IBuilderConfig.create_timing_cache") == [b""] and cache.read_bytes() == b"gpu-a:timings"
    trt, plan = _build(monkeypatch, tmp_path, "10.12.0", fp16_onnx, precision="fp16", timing_cache=str(cache))
    assert trt.called("IBuilderConfig.create_timing_cache") == [b"gpu-a:timings"]
    assert trt.called("IBuilderConfig.set_timing_cache") == [True]
    cache.unlink()
    trt = RecordingTensorRT("10.12.0")
    trt.lose_timing_cache = True  # get_timing_cache() -> None
    install(monkeypatch, trt, RecordingPyCuda())
    plan = build_engine(fp16_onnx, EngineConfig(precision="fp16", output=str(plan), timing_cache=str(cache)))
    doc = json.loads((plan.parent / "m.plan.json").read_text())  # the sidecar is there all the same
    assert not cache.exists() and any("no timing cache" in n for n in doc["notes"])


def test_dla_cores_are_checked_on_the_builder(monkeypatch, tmp_path, fp16_onnx):
    with pytest.raises(EngineBuildError, match="DLA core 0 requested, this device has 0"):
        _build(monkeypatch, tmp_path, "10.3.0", fp16_onnx, precision="fp16", dla_core=0,
               profile="512x640:512x640:512x640")


def _int8_pair(folder):
    """m_int8.onnx (FP32 Q/DQ) + m_int8_fp16.onnx (FP16 scales, opset 19), sidecars as the export writes them."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    for stem, f, t, opset in (("m_int8", np.float32, TensorProto.FLOAT, 17),
                              ("m_int8_fp16", np.float16, TensorProto.FLOAT16, 19)):
        inits = [numpy_helper.from_array(np.array(0.1, f), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="/q"),
                 helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="/dq"),
                 helper.make_node("Relu", ["y"], ["out"], name="/conv0/Conv")]
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", t, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("out", t, [1, 3, 64, 64])], inits)
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), str(folder / f"{stem}.onnx"))
        doc = {"precision": "int8", "int8": {"kept_fp32_nodes": ["/conv0/Conv"], "scored_graph": "m_int8_fp16.onnx"}}
        (folder / f"{stem}.onnx.json").write_text(json.dumps(doc))
    return folder / "m_int8.onnx"


@pytest.mark.parametrize("version", ["10.12.0", "11.4.1"])
def test_strongly_typed_int8_parses_the_fp16_qdq_graph(monkeypatch, tmp_path, version):
    trt, plan = _build(monkeypatch, tmp_path, version, _int8_pair(tmp_path), precision="int8")
    (parsed,) = trt.called("OnnxParser.parse_from_file")
    assert str(parsed).endswith("m_int8_fp16.onnx") and trt.called("IBuilderConfig.set_flag") == []
    doc = json.loads((plan.parent / "m.plan.json").read_text())
    assert doc["high_precision"] == "fp16" and doc["onnx"]["path"].endswith("m_int8_fp16.onnx")


def test_weakly_typed_int8_on_10_3_pins_the_search_kept_layer_by_name(monkeypatch, tmp_path):
    trt, plan = _build(monkeypatch, tmp_path, "10.3.0", _int8_pair(tmp_path), precision="int8")
    (parsed,) = trt.called("OnnxParser.parse_from_file")
    assert str(parsed).endswith("m_int8.onnx")
    assert trt.called("IBuilderConfig.set_flag") == [
        "BuilderFlag.INT8", "BuilderFlag.FP16", "BuilderFlag.OBEY_PRECISION_CONSTRAINTS"]
    assert [a[0] for a in trt.called("ILayer.set_output_type")] == ["/conv0/Conv"]
