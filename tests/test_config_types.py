"""The one type check of config loaders, and the CLI errors it gives instead of tracebacks."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.config_types import check_field_types
from edgefuse.engines.config import EngineConfig
from edgefuse.errors import CheckpointError, ConfigError, DataError, EngineBuildError
from edgefuse.export.config import ExportConfig
from edgefuse.train.config import TrainConfig
from tests.helpers import SAMPLES, write_pair_dataset


@pytest.mark.parametrize("values, match", [
    ({"lr": float("nan")}, "'lr': expected a finite number, got nan"),
    ({"lr": float("inf")}, "finite"),
    ({"iters": "3"}, "'iters': expected an integer, got str"),
    ({"crop": True}, "'crop': expected an integer, got bool"),
    ({"data": [1]}, "'data': item 0: expected a string"),
    ({"model_config": [1, 2]}, "'model_config': expected a mapping"),
    ({"teacher": 5}, "'teacher': expected str or null"),
    ({"trainable_adapters": "yes"}, "expected true or false"),
    ({"workers": -1}, "workers must be >= 0"),
    ({"threads": -2}, "threads must be >= 0"),
    ({"holdout": 1.5}, "holdout must be a fraction"),
])
def test_training_config_types_and_ranges(values, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(values)


def test_good_values_pass():
    TrainConfig.from_dict({"lr": 1, "data": "one/folder", "model_config": {"widths": [8, 8, 8]}, "teacher": None})
    ExportConfig.from_dict({"dynamic": "256x320:480x640:720x1280", "parity": "x", "psnr_target": None,
                            "precision": "fp32"})
    ExportConfig.from_dict({"dynamic": [[256, 320], [480, 640], [720, 1280]], "precision": "fp32"})


@pytest.mark.parametrize("values, match", [
    ({"height": "480"}, "'height': expected an integer"),
    ({"simplify": "no"}, "'simplify': expected true or false"),
    ({"precision": "fp99"}, "'precision': expected one of fp32, fp16, int8"),
    ({"fp16_max_abs": float("nan")}, "finite"),
    ({"parity": [1]}, "'parity': item 0"),
    ({"dynamic": [[256, 320], [480, "x"], [720, 1280]]}, "'dynamic'"),
])
def test_export_config_types(values, match):
    with pytest.raises(ConfigError, match=match):
        ExportConfig.from_dict(values)


def test_engine_config_types():
    with pytest.raises(ConfigError, match="'workspace_mb': expected int or null"):
        EngineConfig(workspace_mb="big")  # type: ignore[arg-type]


def test_unannotated_dataclass_fields_are_skipped():
    import dataclasses

    @dataclasses.dataclass
    class C:
        a: int = 0

    check_field_types(C, {"a": 1, "b": "ignored"}, "test")
    with pytest.raises(ConfigError, match="test option 'a'"):
        check_field_types(C, {"a": 1.5}, "test")


def _one_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def test_recipe_with_wrong_types_is_one_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("height: [480]\n")
    res = CliRunner().invoke(cli, ["export", "--recipe", str(recipe), "--model", "edge_nano", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "'height'" in _one_line(res)


@pytest.mark.parametrize("flag, value, match", [
    ("--workers", "-1", "workers must be >= 0"), ("--threads", "-2", "threads must be >= 0"),
    ("--lr", "nan", "finite"), ("--crop", "4096", "more than twice every training image")])
def test_training_flags_are_one_line(tmp_path, flag, value, match):
    data = write_pair_dataset(tmp_path / "train", ["a", "b", "c"], h=40, w=48)
    res = CliRunner().invoke(cli, ["train", "--mode", "student", "--data", str(data), "--iters", "1", "--device",
                                   "cpu", "--batch", "2", "--out", str(tmp_path / "run"), flag, value])
    assert res.exit_code == 2 and match in _one_line(res)
    assert not (tmp_path / "run" / "resolved_config.yaml").exists()


def test_training_config_yaml_with_wrong_types(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("iters: ten\n")
    res = CliRunner().invoke(cli, ["train", "--config", str(cfg)])
    assert res.exit_code == 2 and "'iters': expected an integer" in _one_line(res)


def _ckpt(tmp_path):
    from edgefuse.models import create_model
    from edgefuse.models.checkpoint import save_checkpoint

    return save_checkpoint(create_model("edge_nano", widths=(8, 8, 8)), tmp_path / "m.safetensors", "edge_nano",
                           {"widths": (8, 8, 8)})


@pytest.mark.parametrize("card, match", [
    ([1, 2, 3], "holds a JSON list"),
    ({"format": "edgefuse-checkpoint/1", "architecture": "edge_nano", "config": [8]}, "'config' must be a mapping"),
    ({"format": "edgefuse-checkpoint/1", "architecture": "edge_nano", "config": {"widths": "abc"}}, "does not take"),
    ({"format": "edgefuse-checkpoint/1", "architecture": "edge_nano", "config": {"nope": 1}}, "does not take"),
    ({"format": "edgefuse-checkpoint/1", "architecture": "edge_nano", "config": {"widths": [10**6] * 3}},
     "parameters"),
])
def test_malformed_model_cards(tmp_path, card, match):
    path = _ckpt(tmp_path)
    path.with_suffix(".json").write_text(json.dumps(card))
    from edgefuse.models.checkpoint import load_checkpoint

    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)
    res = CliRunner().invoke(cli, ["fuse", "--data", str(SAMPLES / "ivf"), "-o", str(tmp_path / "o"), "-m", str(path)])
    line = _one_line(res)
    assert res.exit_code == 2 and ("m.json" in line or "m.safetensors" in line)


def test_engine_sidecar_that_is_a_string(tmp_path):
    from edgefuse.runtime.trt.guard import read_sidecar

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"plan")
    (tmp_path / "m.plan.json").write_text('"just a string"')
    with pytest.raises(EngineBuildError, match="holds a JSON str, not an object"):
        read_sidecar(plan)


def test_symlink_loop_as_calib(tmp_path):
    from edgefuse.export import run_export

    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    cfg = ExportConfig(model="edge_nano", random_weights=True, height=32, width=48, precision="int8", calib=str(loop),
                       out=str(tmp_path / "out"))
    with pytest.raises(DataError) as info:
        run_export(cfg)
    assert "\n" not in str(info.value) and "loop" in str(info.value)
