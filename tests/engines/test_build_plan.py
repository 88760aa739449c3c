"""Engine build decisions and the version/GPU guard: pure logic, tested without TensorRT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefuse.engines import EngineConfig, check_engine, graph_precision, plan_build
from edgefuse.engines.build import GraphPrecision, default_output
from edgefuse.runtime.sidecars import ENGINE_FORMAT as FORMAT
from edgefuse.errors import ConfigError, EngineBuildError
from edgefuse.files import file_sha256
from edgefuse.export.config import Precision

STATIC = (("vis", (1, 3, 64, 64)), ("ir", (1, 1, 64, 64)))
DYN = (("vis", (1, 3, -1, -1)), ("ir", (1, 1, -1, -1)))
FP32, FP16, QDQ = GraphPrecision(False, False, STATIC), GraphPrecision(False, True, STATIC), GraphPrecision(True, False, STATIC)
VERSIONS = ("10.3", "10.9", "10.12", "11.4")


def _plan(precision, graph, version, doc=None, **cfg):
    return plan_build(EngineConfig(precision=precision, **cfg), graph, version, doc)


def test_trt10_before_10_12_uses_builder_flags_and_pins_the_fp16_islands():
    doc = {"fp16": {"kept_fp32_nodes": ["/blk/Pow", "/blk/Div_3"]}}
    plan = _plan("fp16", FP32, "10.3", doc)
    assert not plan.strongly_typed and plan.flags == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert plan.pin_layer_types == ["NORMALIZATION", "SOFTMAX", "REDUCE"]
    assert plan.pin_layer_names == ["/blk/Pow", "/blk/Div_3"]  # what the validated FP16 ONNX kept FP32
    int8 = _plan("int8", QDQ, "10.9", {"int8": {"kept_fp32_nodes": ["/conv0/Conv"]}})
    assert int8.flags == ["INT8", "FP16", "OBEY_PRECISION_CONSTRAINTS"] and int8.pin_layer_names == ["/conv0/Conv"]
    assert any("may run FP16" in n for n in int8.notes)  # and which graph the sidecar's PSNR is of
    assert _plan("fp32", FP32, "10.3").flags == []


@pytest.mark.parametrize("version", ["10.12", "10.16", "11.1", "11.4"])
def test_from_10_12_fp16_is_strongly_typed_from_the_fp16_graph(version):
    plan = _plan("fp16", FP16, version)
    assert plan.strongly_typed and plan.network_flags == ["STRONGLY_TYPED"] and plan.flags == []
    assert not plan.pin_fp32 and plan.high_precision == "fp16"
    with pytest.raises(ConfigError, match="_fp16.onnx"):
        _plan("fp16", FP32, version)


def test_weak_typing_is_opt_in_on_10_12_and_refused_on_11():
    plan = _plan("fp16", FP32, "10.12", strongly_typed=False)
    assert plan.flags[0] == "FP16" and any("deprecated since TensorRT 10.12" in n for n in plan.notes)
    with pytest.raises(ConfigError, match="strongly typed networks only"):
        _plan("fp16", FP16, "11.4", strongly_typed=False)
    assert _plan("fp16", FP16, "10.3").strongly_typed  # the FP16 graph is built as it is on 10.3 too


@pytest.mark.parametrize("version", VERSIONS)
def test_int8_needs_qdq_and_qdq_needs_int8(version):
    with pytest.raises(ConfigError, match="Q/DQ graph"):
        _plan("int8", FP32, version)
    with pytest.raises(ConfigError, match="--precision int8"):
        _plan("fp16", QDQ, version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("strong", [None, True, False])
def test_fp32_from_an_fp16_graph_is_refused_in_either_typing(version, strong):
    if strong is False and version.startswith("11"):
        pytest.skip("weak typing does not exist on 11")
    with pytest.raises(ConfigError, match="this graph is FP16"):
        _plan("fp32", FP16, version, strongly_typed=strong)


QDQ16 = GraphPrecision(True, True, STATIC)  # the FP16 Q/DQ graph (*_int8_fp16.onnx)


@pytest.mark.parametrize("version", ["10.12", "11.4"])
def test_strong_int8_runs_fp16_outside_the_qdq_pairs(version):
    plan = _plan("int8", QDQ16, version)
    assert plan.strongly_typed and plan.network_flags == ["STRONGLY_TYPED"] and plan.flags == []
    assert plan.high_precision == "fp16" and not plan.pin_fp32  # the graph's own FP32 islands run as typed
    with pytest.raises(ConfigError, match="_int8_fp16.onnx.*--int8-high-precision fp32"):
        _plan("int8", QDQ, version)  # FP32 elsewhere is not the default
    fp32 = _plan("int8", QDQ, version, int8_high_precision="fp32")
    assert fp32.strongly_typed and fp32.high_precision == "fp32" and any("runs FP32" in n for n in fp32.notes)
    with pytest.raises(ConfigError, match="FP16 outside the Q/DQ pairs"):
        _plan("int8", QDQ16, version, int8_high_precision="fp32")


def test_trt10_3_int8_weak_flags_pin_both_exports_islands_and_say_what_the_search_scored():
    doc = {"fp16": {"kept_fp32_nodes": ["/blk/Div_3"]},
           "int8": {"kept_fp32_nodes": ["/conv0/Conv"], "scored_graph": "m_int8_fp16.onnx"}}
    plan = _plan("int8", QDQ, "10.3", doc)
    assert not plan.strongly_typed and plan.flags == ["INT8", "FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert plan.high_precision == "fp16" and plan.pin_layer_names == ["/blk/Div_3", "/conv0/Conv"]
    assert any("scored that graph (m_int8_fp16.onnx" in n for n in plan.notes)
    old = _plan("int8", QDQ, "10.3", {"int8": {"kept_fp32_nodes": []}})
    assert any("FP32-elsewhere graph" in n and "re-export" in n for n in old.notes)
    fp32 = _plan("int8", QDQ, "10.3", doc, int8_high_precision="fp32")
    assert fp32.flags == ["INT8"] and fp32.high_precision == "fp32" and not fp32.pin_fp32
    strong = _plan("int8", QDQ16, "10.3")  # the FP16 Q/DQ graph carries its types: strongly typed on 10.3 too
    assert strong.strongly_typed and strong.high_precision == "fp16"
    with pytest.raises(ConfigError, match="--precision int8"):
        EngineConfig(precision="fp16", int8_high_precision="fp32")
    with pytest.raises(ConfigError, match="fp16 or fp32"):
        EngineConfig(precision="int8", int8_high_precision="bf16")


def test_profile_from_the_onnx_sidecar_and_the_size_rule():
    dyn = GraphPrecision(False, True, DYN)
    doc = {"shapes": {"min": [256, 320], "opt": [512, 640], "max": [1088, 1920]}, "size_rule": {"multiple": 64}}
    plan = _plan("fp16", dyn, "10.12", doc)
    assert plan.profiles == [{"vis": {"min": [1, 3, 256, 320], "opt": [1, 3, 512, 640], "max": [1, 3, 1088, 1920]},
                              "ir": {"min": [1, 1, 256, 320], "opt": [1, 1, 512, 640], "max": [1, 1, 1088, 1920]}}]
    assert plan.size_multiple == 64 and plan.static_shapes is None
    with pytest.raises(ConfigError, match="multiples of 64"):
        _plan("fp16", dyn, "10.12", doc, profile="256x320:480x640:1088x1920")
    with pytest.raises(ConfigError, match="--profile MIN:OPT:MAX"):
        _plan("fp16", dyn, "10.12")
    with pytest.raises(ConfigError, match="static shapes"):
        _plan("fp16", FP16, "10.12", profile="64x64:64x64:64x64")


def test_dla_needs_a_static_profile_and_a_version_with_dla():
    dyn = GraphPrecision(False, True, DYN)
    with pytest.raises(ConfigError, match="min = opt = max"):
        _plan("fp16", dyn, "10.3", dla_core=0, profile="256x320:480x640:720x1280")
    plan = _plan("fp16", dyn, "10.3", dla_core=0, profile="480x640:480x640:480x640")
    assert plan.dla_core == 0 and "GPU_FALLBACK" in plan.flags
    with pytest.raises(ConfigError, match="no DLA support"):
        _plan("fp16", FP16, "11.1", dla_core=0)
    assert _plan("fp16", FP16, "11.4", dla_core=0).dla_core == 0
    with pytest.raises(ConfigError, match="GPU only"):
        _plan("fp16", FP16, "10.9", dla_core=0, hardware_compat="ampere_plus")


def test_same_compute_capability_exists_from_10_9():
    with pytest.raises(ConfigError, match="10.9 or newer"):
        _plan("fp16", FP16, "10.3", hardware_compat="same_compute_capability")
    for version in ("10.9", "10.12", "11.4"):
        assert _plan("fp16", FP16, version, hardware_compat="same_compute_capability").hardware_compat
    assert _plan("fp16", FP16, "10.3", hardware_compat="ampere_plus").hardware_compat == "ampere_plus"


def test_timing_cache_handling_is_planned(tmp_path):
    cache = tmp_path / "t.cache"
    assert _plan("fp16", FP16, "10.12", timing_cache=str(cache)).timing_cache["read"] is False
    cache.write_bytes(b"x")
    tc = _plan("fp16", FP16, "10.12", timing_cache=str(cache)).timing_cache
    assert tc["read"] and tc["on_mismatch"].startswith("refuse")
    assert _plan("fp16", FP16, "10.12").timing_cache is None


def test_a_bad_version_string_is_a_config_error():
    with pytest.raises(ConfigError, match="not a TensorRT version"):
        _plan("fp16", FP16, "ten")


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

    assert graph_precision(graph("Cast", to=TensorProto.FLOAT16)) == GraphPrecision(False, True, (("x", (1,)),))
    assert graph_precision(graph("Relu")) == GraphPrecision(False, False, (("x", (1,)),))


def _fake_plan(tmp_path: Path, **fields) -> Path:
    plan = tmp_path / "m_fp16.plan"
    plan.write_bytes(b"not a real plan, only bytes to hash")
    doc = {"format": FORMAT, "sha256": file_sha256(plan), "tensorrt": "10.3.0", "precision": "fp16",
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
    plan = _fake_plan(tmp_path, hardware_compat="ampere_plus", hardware_compat_applied=True)
    check_engine(plan, "10.3.0", {"name": "RTX 4090", "compute_capability": "8.9"})


def test_guard_checks_the_gpu_name_unless_the_level_was_really_set(tmp_path):
    other = {"name": "Orin NX", "compute_capability": "8.7"}
    with pytest.raises(EngineBuildError, match="built for Orin"):  # a sidecar from before the level was set
        check_engine(_fake_plan(tmp_path, hardware_compat="same_compute_capability", tensorrt="10.9.0"), "10.9.0", other)
    plan = _fake_plan(tmp_path, hardware_compat="same_compute_capability", hardware_compat_applied=True,
                      tensorrt="10.9.0")
    assert check_engine(plan, "10.9.0", other)
    with pytest.raises(EngineBuildError, match="built for Orin"):
        check_engine(plan, "10.9.0", {"name": "RTX 4090", "compute_capability": "8.9"})


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


def _qdq_file(path: Path, fp16: bool) -> Path:
    """A one-pair Q/DQ graph: FP32 scales, or FP16 ones at opset 19 (the FP16 Q/DQ graph's types)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save

    f = np.float16 if fp16 else np.float32
    inits = [numpy_helper.from_array(np.array(0.1, f), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")]
    t = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", t, [1, 3, 64, 64])],
                          [helper.make_tensor_value_info("y", t, [1, 3, 64, 64])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19 if fp16 else 17)]), str(path))
    return path


@pytest.fixture
def int8_files(tmp_path):
    src = _qdq_file(tmp_path / "m_int8.onnx", fp16=False)
    _qdq_file(tmp_path / "m_int8_fp16.onnx", fp16=True)
    (tmp_path / "m_int8.onnx.json").write_text(json.dumps(
        {"precision": "int8", "int8": {"kept_fp32_nodes": ["/conv0/Conv"], "scored_graph": "m_int8_fp16.onnx"}}))
    (tmp_path / "m_fp16.onnx.json").write_text(json.dumps({"precision": "fp16", "fp16": {"kept_fp32_nodes": ["/Pow"]}}))
    return src


@pytest.mark.parametrize("version", ["10.12", "11.4"])
def test_plan_for_takes_the_fp16_qdq_sibling_when_strongly_typed(int8_files, version):
    from edgefuse.engines import format_plan, plan_for

    plan = plan_for(int8_files, EngineConfig(precision="int8"), version)
    assert Path(plan.onnx).name == "m_int8_fp16.onnx" and plan.strongly_typed and plan.high_precision == "fp16"
    text = format_plan(plan)
    assert "graph          " in text and "m_int8_fp16.onnx" in text and "outside Q/DQ and FP32 islands: fp16" in text
    explicit = plan_for(int8_files, EngineConfig(precision="int8", int8_high_precision="fp32"), version)
    assert Path(explicit.onnx).name == "m_int8.onnx" and explicit.high_precision == "fp32"
    (int8_files.parent / "m_int8_fp16.onnx").unlink()
    with pytest.raises(ConfigError, match="_int8_fp16.onnx"):
        plan_for(int8_files, EngineConfig(precision="int8"), version)


def test_plan_for_on_10_3_keeps_the_fp32_qdq_graph_and_pins_both_exports_islands(int8_files):
    from edgefuse.engines import plan_for

    weak = plan_for(int8_files, EngineConfig(precision="int8"), "10.3")
    assert Path(weak.onnx).name == "m_int8.onnx" and weak.flags == ["INT8", "FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert weak.pin_layer_names == ["/Pow", "/conv0/Conv"]  # the FP16 export's island (sibling sidecar) + the search's
    assert any("scored that graph (m_int8_fp16.onnx" in n for n in weak.notes)
    strong = plan_for(int8_files, EngineConfig(precision="int8", strongly_typed=True), "10.3")
    assert Path(strong.onnx).name == "m_int8_fp16.onnx" and strong.high_precision == "fp16"


def test_dry_run_prints_which_int8_graph_and_high_precision(int8_files):
    from click.testing import CliRunner

    from edgefuse.cli.main import cli

    def dry(*extra):
        r = CliRunner().invoke(cli, ["build", "--onnx", str(int8_files), "--precision", "int8", "--dry-run", *extra])
        return r.exit_code, r.output

    code, out = dry("--trt-version", "11.4")
    assert code == 0 and "m_int8_fp16.onnx" in out and "outside Q/DQ and FP32 islands: fp16" in out
    code, out = dry("--trt-version", "11.4", "--int8-high-precision", "fp32")
    assert code == 0 and "graph          " + str(int8_files) in out and "islands: fp32" in out
    code, out = dry("--trt-version", "10.3")
    assert code == 0 and "INT8, FP16, OBEY_PRECISION_CONSTRAINTS" in out and "2 layers by name" in out
