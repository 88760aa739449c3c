"""last.pt is read without running pickled code; broken or full-disk checkpoints are one-line errors."""

from __future__ import annotations

import errno
import os
import pickle

import pytest
import torch
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.errors import CheckpointError, OutputError
from edgefuse.models.checkpoint import load_state
from edgefuse.train.config import TrainConfig
from edgefuse.train.loop import Trainer, train
from tests.fullfs import small_disk  # noqa: F401  (fixture)
from tests.helpers import write_pair_dataset

TINY = dict(model="edge_nano", model_config={"widths": (8, 8, 8)}, batch=2, crop=32,
            val_every=2, ckpt_every=2, val_pairs=1, lr=1e-3)
CLI_TINY = ["--model", "edge_nano", "--batch", "2", "--crop", "32", "--val-every", "2", "--ckpt-every", "2",
            "--val-pairs", "1", "--device", "cpu"]


class Evil:
    """Unpickling this writes a marker file: what a swapped last.pt could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.fixture()
def data(tmp_path):
    return str(write_pair_dataset(tmp_path / "train", ["a", "b", "c", "d"], h=40, w=48))


def _evil_files(tmp_path):
    marker = tmp_path / "marker"
    zip_file = tmp_path / "zip.pt"
    torch.save({"model": Evil(str(marker))}, zip_file)  # torch's zip format
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"model": Evil(str(marker))}))  # a bare pickle
    return marker, [zip_file, raw]


def test_payload_really_runs_when_unpickled_unsafely(tmp_path):
    marker, files = _evil_files(tmp_path)
    torch.load(files[0], weights_only=False)  # what the old resume did
    assert marker.read_text() == "pwned"


def test_malicious_state_is_refused_without_running(tmp_path):
    marker, files = _evil_files(tmp_path)
    for f in files:
        with pytest.raises(CheckpointError) as info:
            load_state(f)
        msg = str(info.value)
        assert "\n" not in msg and "--no-resume" in msg and str(f) in msg
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", "truncated", "list"])
def test_broken_state_files(tmp_path, content):
    p = tmp_path / "last.pt"
    if content == "truncated":
        torch.save({"model": {"w": torch.zeros(1000)}, "iteration": 3}, p)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif content == "list":
        torch.save([1, 2], p)
    else:
        p.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_state(p)
    assert "\n" not in str(info.value) and "--no-resume" in str(info.value)


def test_state_of_another_model_is_one_line(tmp_path, data):
    out = tmp_path / "run"
    train(TrainConfig(mode="student", data=(data,), iters=2, out=str(out), **TINY))
    other = dict(TINY, model_config={"widths": (8, 8, 16)})
    trainer = Trainer(TrainConfig(mode="student", data=(data,), iters=4, out=str(out), **other))
    with pytest.raises(CheckpointError, match="does not fit this run") as info:
        trainer.resume()
    assert "\n" not in str(info.value)


def test_resume_reads_the_real_state_with_weights_only(tmp_path, data):
    out = tmp_path / "run"
    train(TrainConfig(mode="student", data=(data,), iters=2, out=str(out), **TINY))
    state = torch.load(out / "last.pt", weights_only=True)  # loads: nothing but plain containers and tensors
    assert state["iteration"] == 2 and isinstance(state["config"], dict)
    assert not list(out.glob("*.tmp*"))


def test_cli_malicious_last_pt_exit_2_and_no_resume(tmp_path, data):
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "marker"
    torch.save({"model": Evil(str(marker))}, out / "last.pt")
    args = ["train", "--mode", "student", "--data", data, "--iters", "2", "--out", str(out), *CLI_TINY]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot resume" in lines[0] and "--no-resume" in lines[0], res.output
    assert not marker.exists()
    res = CliRunner().invoke(cli, [*args, "--no-resume"])
    assert res.exit_code == 0, res.output
    assert load_state(out / "last.pt")["iteration"] == 2 and not marker.exists()


def test_cli_truncated_last_pt(tmp_path, data):
    out = tmp_path / "run"
    args = ["train", "--mode", "student", "--data", data, "--iters", "2", "--out", str(out), *CLI_TINY]
    assert CliRunner().invoke(cli, args).exit_code == 0
    p = out / "last.pt"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    res = CliRunner().invoke(cli, [*args[:-len(CLI_TINY)], *CLI_TINY[:-2], "--iters", "4", "--device", "cpu"])
    assert res.exit_code == 2 and "cannot resume" in res.output and "Traceback" not in res.output


def test_checkpoint_write_enospc_keeps_previous_last_pt(tmp_path, data, monkeypatch):
    out = tmp_path / "run"
    train(TrainConfig(mode="student", data=(data,), iters=2, out=str(out), **TINY))
    before = (out / "last.pt").read_bytes()
    trainer = Trainer(TrainConfig(mode="student", data=(data,), iters=4, out=str(out), **TINY))
    trainer.resume()
    real = os.write

    def full(fd, buf):
        if len(buf) > 4096:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, buf)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OutputError, match="No space left on device") as info:
        trainer._save_last()
    assert "\n" not in str(info.value)
    assert (out / "last.pt").read_bytes() == before
    assert sorted(p.name for p in out.iterdir() if "tmp" in p.name) == []


def test_cli_train_on_a_full_disk(small_disk, data):  # noqa: F811
    out = small_disk.root / "run"
    args = ["train", "--mode", "student", "--data", data, "--iters", "2", "--out", str(out), *CLI_TINY]
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    small_disk.fill()
    res = CliRunner().invoke(cli, [*args, "--no-resume"])
    assert res.exit_code in (1, 2) and not isinstance(res.exception, (OSError, AssertionError)), res.exc_info
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0], res.output
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # previous artefacts intact, nothing half-written beside them
