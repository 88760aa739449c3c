"""run_export end to end, its sidecars, bad inputs, recipes and the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.errors import CheckpointError, ConfigError
from edgefuse.export import ExportConfig, run_export
from edgefuse.export.config import load_recipe, parse_dynamic, recipe_names
from edgefuse.models import create_model
from edgefuse.models.checkpoint import save_checkpoint
from tests.export.conftest import H, W, requires_fp16
from tests.helpers import SAMPLES


def test_artefacts_sidecars_and_parity(int8_export):
    cfg, report, stages = int8_export
    assert [s.name for s in stages][:6] == ["calib", "onnx", "simplify", "fp16", "int8", "parity"]
    assert set(report.artefacts) == {"fp32", "fp16", "int8", "int8_fp16"}
    assert report.artefacts["int8_fp16"].name.endswith("_int8_fp16.onnx")
    for p, path in report.artefacts.items():
        doc = json.loads(report.sidecars[p].read_text())
        assert doc["precision"] == p.removesuffix("_fp16") if p == "int8_fp16" else doc["precision"] == p
        assert doc["opset"] >= 17 and doc["shapes"] == {"static": [H, W]}
        assert doc["model"]["checkpoint_sha256"] and doc["model"]["architecture"] == "edge_nano"
        assert {"torch", "onnx", "onnxruntime", "onnxsim"} <= set(doc["tools"])
        par = doc["parity"]
        assert {"max_abs_err", "psnr_db", "ssim", "delta_VIF", "delta_Qabf", "passed"} <= set(par)
        assert par["passed"], (p, par)
    assert report.parity["fp32"]["max_abs_err"] <= 1e-4
    assert report.parity["fp16"]["psnr_db"] >= 40
    int8 = json.loads(report.sidecars["int8"].read_text())["int8"]
    assert int8["calibration"]["pairs"] == 10 and int8["calibration"]["fingerprint"]
    assert int8["high_precision"] == "fp32" and int8["scored_graph"].endswith("_int8_fp16.onnx")  # what engines run
    int8_fp16 = json.loads(report.sidecars["int8_fp16"].read_text())["int8"]
    assert int8_fp16["high_precision"] == "fp16" and int8_fp16["kept_fp32_nodes"] == int8["kept_fp32_nodes"]
    assert report.parity["int8_fp16"]["passed"]
    out = report.artefacts["fp32"].parent
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    assert report.build_command.startswith("edgefuse build --onnx") and "_int8.onnx" in report.build_command


def test_second_run_hits_the_calibration_cache(int8_export):
    cfg, _, _ = int8_export
    stages = []
    run_export(cfg, on_stage=stages.append)
    note = next(s.note for s in stages if s.name == "int8")
    assert "cache hit" in note


def test_unwritable_out_dir(tmp_path, nano_ckpt):
    (tmp_path / "file").write_text("x")
    cfg = ExportConfig(weights=str(nano_ckpt), height=H, width=W, out=str(tmp_path / "file" / "out"))
    with pytest.raises(ConfigError, match="cannot be created"):
        run_export(cfg)


def test_checkpoint_of_another_architecture(tmp_path, nano_ckpt):
    cfg = ExportConfig(model="edge_small", weights=str(nano_ckpt), height=H, width=W, out=str(tmp_path))
    with pytest.raises(CheckpointError, match="holds a 'edge_nano' model, not 'edge_small'"):
        run_export(cfg)
    assert not list(tmp_path.glob("*.onnx"))


def test_teacher_checkpoint_refused_before_any_file(tmp_path):
    ckpt = save_checkpoint(create_model("edge_teacher"), tmp_path / "t.safetensors", "edge_teacher", {"text_dim": 384})
    cfg = ExportConfig(weights=str(ckpt), height=H, width=W, out=str(tmp_path / "out"))
    with pytest.raises(Exception, match="teacher"):
        run_export(cfg)
    assert not list((tmp_path / "out").glob("*.onnx"))


def test_int8_needs_calibration_and_bad_options():
    with pytest.raises(ConfigError, match="--calib"):
        ExportConfig(precision="int8")
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        ExportConfig.from_dict({"calib_metod": "minmax"})
    with pytest.raises(ConfigError, match="min <= opt <= max"):
        parse_dynamic("64x64:32x32:128x128")
    with pytest.raises(ConfigError):
        ExportConfig(precision="int4")


def test_recipes_parse():
    names = recipe_names()
    assert {"jetson_orin_fp16", "desktop_int8"} <= set(names)
    for name in names:
        values = load_recipe(name)
        values.setdefault("calib", "somewhere")  # INT8 recipes name their calibration folder
        ExportConfig.from_dict(values)
    with pytest.raises(ConfigError, match="no export recipe"):
        load_recipe("jetson_orin_fp61")


def test_recipes_ship_in_the_package_and_paths_still_work(tmp_path, monkeypatch):
    from importlib.resources import files

    shipped = files("edgefuse") / "assets" / "recipes"
    assert recipe_names() == sorted(p.name[:-5] for p in shipped.iterdir() if p.name.endswith(".yaml"))
    for name in recipe_names():
        assert "../" not in (shipped / f"{name}.yaml").read_text()  # no folder outside the package
    with pytest.raises(ConfigError, match="--calib DIR"):
        ExportConfig.from_recipe("desktop_int8")
    own = tmp_path / "mine.yaml"
    own.write_text("precision: fp32\nheight: 32\nwidth: 48\n")
    assert ExportConfig.from_recipe(own).precision.value == "fp32"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "jetson_orin_fp16.yaml").write_text("precision: fp32\n")
    assert load_recipe("jetson_orin_fp16") == {"precision": "fp32"}  # ./export/ comes first
    with pytest.raises(ConfigError, match="no export recipe"):
        load_recipe("../recipes/jetson_orin_fp16")  # a bare name only, never a path into the package


@pytest.mark.parametrize("cmd", [["export"], ["build"], ["inspect"]])
def test_help(cmd):
    result = CliRunner().invoke(cli, [*cmd, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@requires_fp16
def test_cli_export_fp16(tmp_path, nano_ckpt, calib_dir):
    result = CliRunner().invoke(cli, [
        "export", "--weights", str(nano_ckpt), "--height", str(H), "--width", str(W), "--precision", "fp16",
        "--parity", str(SAMPLES / "ivf"), "--parity", str(calib_dir), "--parity-pairs", "1",
        "--out", str(tmp_path), "--threads", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [ln.split()[0] for ln in lines[:5]] == ["onnx", "simplify", "fp16", "parity", "manifest"]
    assert " s " in lines[0] and "KiB" in lines[0]
    assert "TensorRT is not installed here" in result.output or "engine" in result.output
    assert (tmp_path / "resolved_config.yaml").is_file()
    parity = json.loads((tmp_path / "edge_nano_fp16.onnx.json").read_text())["parity"]
    assert parity["pairs"] == 2 and set(parity["by_data"]) == {str(SAMPLES / "ivf"), str(calib_dir)}


def test_cli_export_without_weights_or_shipped_model(tmp_path, monkeypatch):
    import edgefuse.runtime.artefacts

    monkeypatch.setattr(edgefuse.runtime.artefacts, "shipped_models", lambda: {})
    result = CliRunner().invoke(cli, ["export", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no shipped default model" in result.output and "--random-weights" in result.output
