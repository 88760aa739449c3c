"""A failed re-export (bad --parity, full disk) keeps the previous export's files exactly as they were."""

from __future__ import annotations

import os
import stat

from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.export.conftest import H, W
from tests.fullfs import small_disk  # noqa: F401  (fixture)
from tests.helpers import SAMPLES


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _export(ckpt, out, *extra):
    args = ["export", "--weights", str(ckpt), "--height", str(H), "--width", str(W), "--parity-pairs", "1",
            "--out", str(out), "--threads", "1", *extra]
    res = CliRunner().invoke(cli, args)
    return res, [ln for ln in res.output.splitlines() if ln.strip()]


def test_bad_parity_folder_keeps_the_previous_export(tmp_path, nano_ckpt):
    out = tmp_path / "out"
    res, lines = _export(nano_ckpt, out, "--parity", str(SAMPLES / "ivf"))
    assert res.exit_code == 0, res.output
    assert all(".staged-" not in ln for ln in lines)  # stage lines name the final paths
    before = _snapshot(out)
    assert "edge_nano.onnx" in before and "edge_nano.onnx.json" in before
    mode = stat.S_IMODE((out / "edge_nano.onnx").stat().st_mode)
    assert mode != 0o600 and mode & 0o044
    res, lines = _export(nano_ckpt, out, "--parity", str(tmp_path / "no-such-folder"))
    assert res.exit_code == 2 and len(lines) == 1 and "not found" in lines[0], res.output
    assert _snapshot(out) == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_export_on_a_full_disk_keeps_the_previous_export(small_disk, nano_ckpt):  # noqa: F811
    out = small_disk.root / "out"
    res, _ = _export(nano_ckpt, out)
    assert res.exit_code == 0, res.output
    before = _snapshot(out)
    small_disk.fill()
    res, lines = _export(nano_ckpt, out)
    assert res.exit_code == 1, (res.output, res.exc_info)
    assert len(lines) == 1 and "No space left on device" in lines[0], res.output
    assert _snapshot(out) == before
    assert sorted(os.listdir(out)) == sorted(before)
