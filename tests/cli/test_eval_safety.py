"""``edgefuse eval`` checks its output paths before computing and fails cleanly on a full disk."""

from __future__ import annotations

import os
import time

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.fullfs import small_disk  # noqa: F401  (fixture)
from tests.helpers import SAMPLES


def _invoke(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    return res, [ln for ln in res.output.splitlines() if ln.strip()]


@pytest.mark.parametrize("make, option, match", [
    (lambda d: d / "afile" / "x.csv", "--csv", "is a file, not a folder"),
    (lambda d: d, "--json", "is a folder"),
    (lambda d: d / "grid.xyz", "--grid", "unknown suffix"),
])
def test_bad_output_paths_fail_before_computing(tmp_path, monkeypatch, make, option, match):
    (tmp_path / "afile").write_text("x")
    import edgefuse.cli.eval_cmd as eval_cmd

    def no_compute(*a, **k):
        raise AssertionError("computed before checking the output paths")

    monkeypatch.setattr(eval_cmd, "evaluate_dataset", no_compute)
    res, lines = _invoke("eval", "--data", SAMPLES / "ivf", "-m", "max", option, make(tmp_path))
    assert res.exit_code == 2 and len(lines) == 1 and match in lines[0], res.output


def test_grid_pairs_zero_is_refused_at_once(tmp_path):
    start = time.monotonic()
    res, lines = _invoke("eval", "--data", SAMPLES / "ivf", "-m", "max", "--grid", tmp_path / "g.png",
                         "--grid-pairs", "0")
    assert res.exit_code == 2 and len(lines) == 1 and "--grid-pairs must be at least 1" in lines[0]
    assert time.monotonic() - start < 5 and not (tmp_path / "g.png").exists()


def test_eval_on_a_full_disk_keeps_previous_outputs(small_disk):  # noqa: F811
    out = small_disk.root
    args = ["eval", "--data", SAMPLES / "ivf", "-m", "max", "--metrics", "VIF,Qabf",
            "--csv", out / "m.csv", "--json", out / "m.json", "--grid", out / "g.png"]
    res, _ = _invoke(*args)
    assert res.exit_code == 0, res.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    small_disk.fill()
    res, lines = _invoke(*args)
    assert res.exit_code == 1, res.output
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "Traceback" not in res.output
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".filler"}
    assert after == {k: v for k, v in before.items()}
    assert sorted(os.listdir(out)) == sorted([*before, ".filler"])
