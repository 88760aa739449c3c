"""``edgefuse fuse`` never overwrites its inputs, refuses non-files, and fails cleanly on a full disk."""

from __future__ import annotations

import os
import shutil
import stat

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.fullfs import small_disk  # noqa: F401  (fixture)
from tests.helpers import SAMPLES, write_pair_dataset


def _invoke(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    # the "model SPEC: ..." line says what -m resolved to once it loaded (informational); errors are one line
    lines = [ln for ln in res.output.splitlines() if ln.strip() and not ln.startswith("model ")]
    return res, lines


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_output_equal_to_an_input_file_is_refused(tmp_path):
    data = write_pair_dataset(tmp_path / "d", ["a"])
    before = _snapshot(data)
    for out in (data / "vi" / "a.png", data / "ir" / "a.png", data / "vi" / ".." / "ir" / "a.png"):
        res, lines = _invoke("fuse", "--vis", data / "vi" / "a.png", "--ir", data / "ir" / "a.png", "-o", out,
                             "-m", "max")
        assert res.exit_code == 2 and len(lines) == 1 and "is the input file" in lines[0], res.output
    assert _snapshot(data) == before


def test_output_folder_equal_to_an_input_folder_is_refused(tmp_path):
    data = write_pair_dataset(tmp_path / "d", ["a", "b"])
    before = _snapshot(data)
    for args in (["--data", data], ["--vis", data / "vi", "--ir", data / "ir"]):
        for out in (data / "vi", data / "ir", tmp_path / "d" / "." / "vi"):
            res, lines = _invoke("fuse", *args, "-o", out, "-m", "max")
            assert res.exit_code == 2 and len(lines) == 1 and "is the input folder" in lines[0], res.output
    assert _snapshot(data) == before


def test_fifo_named_png_is_refused_without_hanging(tmp_path):
    data = write_pair_dataset(tmp_path / "d", ["a"])
    (data / "vi" / "a.png").unlink()
    os.mkfifo(data / "vi" / "a.png")
    res, lines = _invoke("fuse", "--data", data, "-o", tmp_path / "o", "-m", "max")
    assert res.exit_code == 2 and len(lines) == 1 and "not a regular file" in lines[0], res.output


def test_dev_zero_linked_as_an_image_is_refused(tmp_path):
    data = write_pair_dataset(tmp_path / "d", ["a"])
    (data / "ir" / "a.png").unlink()
    os.symlink("/dev/zero", data / "ir" / "a.png")
    res, lines = _invoke("fuse", "--vis", data / "vi" / "a.png", "--ir", data / "ir" / "a.png",
                         "-o", tmp_path / "f.png", "-m", "max")
    assert res.exit_code == 2 and len(lines) == 1 and "not a regular file" in lines[0], res.output


def test_output_mode_is_not_0600(tmp_path):
    out = tmp_path / "f.png"
    res, _ = _invoke("fuse", "--vis", SAMPLES / "ivf/vi/00004N.png", "--ir", SAMPLES / "ivf/ir/00004N.png",
                     "-o", out, "-m", "max")
    assert res.exit_code == 0
    mode = stat.S_IMODE(out.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask and mode != 0o600


def test_fuse_on_a_full_disk(small_disk):  # noqa: F811
    out = small_disk.root / "o"
    data = small_disk.root.parent / "d"
    shutil.copytree(SAMPLES / "ivf", data)
    res, _ = _invoke("fuse", "--data", data, "-o", out, "-m", "max")
    assert res.exit_code == 0
    before = _snapshot(out)
    small_disk.fill()
    for method in ("max", "edge_nano_ivf"):
        res, lines = _invoke("fuse", "--data", data, "-o", out, "-m", method)
        assert res.exit_code == 1 and len(lines) == 1 and "No space left on device" in lines[0], res.output
        assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(p.name for p in before)
    res, lines = _invoke("fuse", "--vis", data / "vi/00004N.png", "--ir", data / "ir/00004N.png",
                         "-o", out / "00004N.png", "-m", "max")
    assert res.exit_code == 1 and "No space left on device" in lines[0]
    assert _snapshot(out) == before


def test_symlink_loop_as_data_is_one_line(tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    res, lines = _invoke("fuse", "--data", loop, "-o", tmp_path / "o", "-m", "max")
    assert res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output, res.output
    assert "symbolic links" in lines[0] or "cannot be opened" in lines[0]
