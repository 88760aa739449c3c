"""Engine build decisions and the version/GPU guard: pure logic, tested without TensorRT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefuse.engines import EngineConfig, check_engine, graph_precision, plan_build
from edgefuse.engines.build import GraphPrecision, default_output
from edgefuse.engines.guard import FORMAT
from edgefuse.errors import ConfigError, EngineBuildError
from edgefuse.export._io import sha256_file
from edgefuse.export.config import Precision

FP32, FP16, QDQ = GraphPrecision(False, False), GraphPrecision(False, True), GraphPrecision(True, False)


def test_trt10_uses_builder_flags():
    assert plan_build(Precision.FP16, FP32, 10, None).flags == ["FP16"]
    plan = plan_build(Precision.INT8, QDQ, 10, None)
    assert not plan.strongly_typed and plan.flags == ["INT8", "FP16"] and plan.pin_fp32
    assert plan_build(Precision.FP32, FP32, 10, None).flags == []


def test_trt11_is_strongly_typed_from_the_graph():
    assert plan_build(Precision.FP16, FP16, 11, None).strongly_typed
    assert plan_build(Precision.INT8, QDQ, 11, None).flags == ["STRONGLY_TYPED"]
    with pytest.raises(ConfigError, match="_fp16.onnx"):
        plan_build(Precision.FP16, FP32, 11, None)
    with pytest.raises(ConfigError, match="strongly typed networks only"):
        plan_build(Precision.FP16, FP16, 11, False)
    assert plan_build(Precision.FP16, FP16, 10, True).strongly_typed  # opt-in on TensorRT 10


def test_int8_needs_qdq_and_qdq_needs_int8():
    with pytest.raises(ConfigError, match="Q/DQ graph"):
        plan_build(Precision.INT8, FP32, 10, None)
    with pytest.raises(ConfigError, match="--precision int8"):
        plan_build(Precision.FP16, QDQ, 10, None)


def test_engine_config_checks():
    with pytest.raises(ConfigError, match="DLA runs FP16 or INT8"):
        EngineConfig(precision="fp32", dla_core=0)
    with pytest.raises(ConfigError, match="0-5"):
        EngineConfig(optimization_level=9)
    assert EngineConfig(profile="64x64:128x128:256x256").profile == ((64, 64), (128, 128), (256, 256))
    assert default_output("export/out/edge_nano_int8.onnx", Precision.INT8) == Path("engines/edge_nano_int8.plan")


def test_graph_precision_of_exported_graphs(tmp_path):
    from onnx import TensorProto, helper, save

    def graph(op, **attrs):
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1])])
        path = tmp_path / f"{op}.onnx"
        save(helper.make_model(g), str(path))
        return path

    assert graph_precision(graph("Cast", to=TensorProto.FLOAT16)) == GraphPrecision(False, True)
    assert graph_precision(graph("Relu")) == GraphPrecision(False, False)


def _fake_plan(tmp_path: Path, **fields) -> Path:
    plan = tmp_path / "m_fp16.plan"
    plan.write_bytes(b"not a real plan, only bytes to hash")
    doc = {"format": FORMAT, "sha256": sha256_file(plan), "tensorrt": "10.3.0", "precision": "fp16",
           "gpu": {"name": "Orin", "compute_capability": "8.7"}, "onnx": {"path": "export/out/m_fp16.onnx"}}
    doc.update(fields)
    (tmp_path / "m_fp16.plan.json").write_text(json.dumps(doc))
    return plan


ORIN = {"name": "Orin", "compute_capability": "8.7"}


def test_guard_accepts_the_same_version_and_gpu(tmp_path):
    assert check_engine(_fake_plan(tmp_path), "10.3.0", ORIN)["precision"] == "fp16"


def test_guard_refuses_another_tensorrt_version(tmp_path):
    pattern = r"built with TensorRT 10\.3\.0.*has TensorRT 10\.16\.1.*edgefuse build --onnx"
    with pytest.raises(EngineBuildError, match=pattern):
        check_engine(_fake_plan(tmp_path), "10.16.1", ORIN)


def test_guard_refuses_another_gpu(tmp_path):
    with pytest.raises(EngineBuildError, match="built for Orin .*8.7.*RTX 4090 .*8.9"):
        check_engine(_fake_plan(tmp_path), "10.3.0", {"name": "RTX 4090", "compute_capability": "8.9"})
    plan = _fake_plan(tmp_path, hardware_compat="ampere_plus")
    check_engine(plan, "10.3.0", {"name": "RTX 4090", "compute_capability": "8.9"})


def test_guard_refuses_missing_sidecar_and_replaced_plan(tmp_path):
    plan = _fake_plan(tmp_path)
    plan.write_bytes(b"another file")
    with pytest.raises(EngineBuildError, match="does not match the hash"):
        check_engine(plan, "10.3.0", ORIN)
    (tmp_path / "m_fp16.plan.json").unlink()
    with pytest.raises(EngineBuildError, match="no sidecar"):
        check_engine(plan, "10.3.0", ORIN)


def test_inspect_engine_without_tensorrt_shows_the_sidecar(tmp_path):
    pytest.importorskip("onnx")
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed: covered by test_tensorrt.py")
    from edgefuse.engines import inspect_file

    report = inspect_file(_fake_plan(tmp_path))
    assert report["sidecar"]["tensorrt"] == "10.3.0" and "not installed" in report["note"]


def test_modules_import_without_tensorrt():
    import importlib.util

    from edgefuse.engines import EngineConfig, build_engine
    from edgefuse.errors import BackendUnavailableError

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed")
    with pytest.raises(BackendUnavailableError, match="TensorRT is not installed"):
        build_engine("whatever.onnx", EngineConfig())
