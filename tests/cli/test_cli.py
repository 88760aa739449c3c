"""The edgefuse CLI end to end on the bundled samples, and its errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.data.images import read_vis
from tests.helpers import SAMPLES, write_pair_dataset

CSV_COLUMNS = "method,image,EN,SD,SF,AG,MI,SCD,VIF,Qabf,Nabf,SSIM,MS_SSIM,CC,PSNR".split(",")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("cmd", [[], ["fuse"], ["eval"], ["list"]])
def test_help(cmd):
    result = run(*cmd, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_fuse_one_pair(tmp_path):
    out = tmp_path / "f.png"
    result = run("fuse", "--vis", str(SAMPLES / "ivf/vi/FLIR_00211.jpg"),
                 "--ir", str(SAMPLES / "ivf/ir/FLIR_00211.jpg"), "-o", str(out), "-m", "average")
    assert result.exit_code == 0, result.output
    assert read_vis(out).shape == (301, 496, 3)


def test_fuse_folders_and_eval_fused_matches_method(tmp_path):
    out = tmp_path / "fused"
    assert run("fuse", "--data", str(SAMPLES / "ivf"), "-o", str(out), "-m", "laplacian").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["00004N.png", "FLIR_00211.png"]
    res = run("eval", "--data", str(SAMPLES / "ivf"), "--fused", f"lp_files={out}", "-m", "laplacian",
              "--csv", str(tmp_path / "r.csv"), "--json", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == CSV_COLUMNS and len(rows) == 4
    doc = json.loads((tmp_path / "r.json").read_text())
    # PNG is lossless: reading the fused files back gives the same scores as fusing in memory
    for metric in ("VIF", "Qabf", "MI", "SSIM"):
        assert doc["mean"]["lp_files"][metric] == pytest.approx(doc["mean"]["laplacian"][metric], rel=1e-9)
    assert "VIF ↑" in res.output and "Nabf ↓" in res.output


def test_eval_grid_and_medical(tmp_path):
    grid = tmp_path / "g.png"
    res = run("eval", "--data", str(SAMPLES / "medical"), "-m", "average", "-m", "max", "--grid", str(grid))
    assert res.exit_code == 0, res.output
    img = read_vis(grid)
    assert img.shape[0] == 240 + 4 and img.shape[1] == 4 * 240  # IR | visible | 2 methods, 256x256 tiles


def test_fuse_and_eval_a_bundled_sample_set(tmp_path):
    out = tmp_path / "fused"
    res = run("fuse", "--sample", "medical", "-o", str(out), "-m", "average")
    assert res.exit_code == 0, res.output
    assert [p.name for p in out.iterdir()] == ["11.png"]
    res = run("eval", "--sample", "medical", "--fused", f"avg={out}", "-m", "average",
              "--json", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["mean"]["avg"]["VIF"] == pytest.approx(doc["mean"]["average"]["VIF"], rel=1e-9)
    both = run("fuse", "--sample", "ivf", "--data", str(SAMPLES / "ivf"), "-o", str(tmp_path / "x"))
    assert both.exit_code == 2 and "not several" in both.output
    assert run("eval", "--sample", "ivf", "--data", str(SAMPLES / "ivf"), "-m", "max").exit_code == 2
    neither = run("eval", "-m", "max")
    assert neither.exit_code == 2 and "--data DIR or --sample NAME" in neither.output
    listed = run("list", "--no-flops")
    assert f"1 pair  {SAMPLES / 'medical'}" in listed.output


def test_fuse_default_method_is_listed():
    res = run("list")
    assert res.exit_code == 0 and "(default)" in res.output and "Qabf" in res.output


def test_bad_inputs_exit_2_without_traceback(tmp_path):
    write_pair_dataset(tmp_path / "d", ["a", "b"])
    (tmp_path / "d" / "vi" / "b.png").unlink()
    cases = [
        (["eval", "--data", str(tmp_path / "d"), "-m", "max"], "no visible partner"),
        (["fuse", "--data", str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "not found"),
        (["eval", "--data", str(SAMPLES / "ivf"), "-m", "maxx"], "Did you mean 'max'"),
        (["fuse", "--vis", str(SAMPLES / "ivf/vi"), "--ir", str(SAMPLES / "ivf/ir/00004N.png"), "-o", "x"],
         "both be files or both be folders"),
        (["eval", "--data", str(SAMPLES / "ivf")], "nothing to evaluate"),
    ]
    for args, message in cases:
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and "Traceback" not in res.output


def test_failed_folder_fuse_writes_nothing(tmp_path):
    write_pair_dataset(tmp_path / "d", ["a", "b", "c"])
    (tmp_path / "d" / "vi" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    res = CliRunner().invoke(cli, ["fuse", "--data", str(tmp_path / "d"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "c.png" in res.output
    assert not (tmp_path / "o").exists()


def test_fused_image_of_wrong_size(tmp_path):
    out = tmp_path / "fused"
    out.mkdir()
    from edgefuse.data.images import write_image

    write_image(out / "00004N.png", np.zeros((10, 10, 3), np.uint8))
    write_image(out / "FLIR_00211.png", np.zeros((10, 10, 3), np.uint8))
    res = CliRunner().invoke(cli, ["eval", "--data", str(SAMPLES / "ivf"), "--fused", str(out)])
    assert res.exit_code == 2 and "must keep the source size" in res.output


def test_fuse_and_eval_with_a_checkpoint(tmp_path):
    from edgefuse.models import create_model
    from edgefuse.models.checkpoint import save_checkpoint

    ckpt = save_checkpoint(create_model("edge_nano"), tmp_path / "runs" / "mine" / "model.safetensors", "edge_nano")
    out = tmp_path / "f.png"
    res = run("fuse", "--vis", str(SAMPLES / "medical/other/11.png"), "--ir", str(SAMPLES / "medical/mri/11.png"),
              "-o", str(out), "-m", str(ckpt))
    assert res.exit_code == 0, res.output
    assert read_vis(out).shape == (256, 256, 3)
    res = run("eval", "--data", str(SAMPLES / "medical"), "-m", str(ckpt), "--metrics", "VIF,Qabf")
    assert res.exit_code == 0 and "mine" in res.output  # label from the run folder


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    (tmp_path / "bad.json").write_text('{"format": "edgefuse-checkpoint/1", "architecture": "edge_nano"}')
    res = CliRunner().invoke(cli, ["fuse", "--data", str(SAMPLES / "ivf"), "-o", str(tmp_path / "o"), "-m", str(bad)])
    assert res.exit_code == 2 and "cannot read weights" in res.output and "Traceback" not in res.output
