"""``edgefuse stream`` end to end: SIGINT leaves a playable mp4 and stats, stalls and bad input are reported.

The subprocess runs the real CLI; only ``edgefuse.fusion.open_model`` is swapped for the
fast fake backend, so the test measures the stream runtime, not a model on a shared CPU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from tests.stream.helpers import FakeBackend, count_frames, m3svd, write_clip

REPO = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import sys, edgefuse.fusion as b\n"
    "from tests.stream.helpers import FakeBackend\n"
    "b.open_model = lambda *a, **kw: FakeBackend(delay_s=0.005)\n"
    "from edgefuse.cli.main import main\n"
    "sys.argv = ['edgefuse', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.fixture()
def fake_backend(monkeypatch):
    import edgefuse.fusion

    monkeypatch.setattr(edgefuse.fusion, "open_model", lambda *a, **kw: FakeBackend())


def clip_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The m3svd clip pair where present, else generated clips (both ~5 s at 30 fps)."""
    try:
        video = m3svd() / "video"
        return video / "ir" / "0111_1716.mp4", video / "vi" / "0111_1716.mp4"
    except pytest.skip.Exception:
        return (write_clip(tmp_path / "ir.mp4", "ir", frames=150), write_clip(tmp_path / "vis.mp4", "vis", frames=150))


def test_help():
    for args in (["stream", "--help"], ["rig", "--help"], ["rig", "calibrate", "--help"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0 and "Usage" in res.output


@pytest.mark.parametrize("args,msg", [
    (["--ir", "synthetic://ir"], "--vis"),
    (["--ir", "webcam://0", "--vis", "synthetic://"], "unknown source scheme"),
    (["--ir", "file:///no/such.mp4", "--vis", "synthetic://"], "does not exist"),
    (["--ir", "synthetic://ir", "--vis", "synthetic://", "--rig", "/no/rig.yaml"], "rig file not found"),
    (["--ir", "synthetic://ir", "--vis", "synthetic://", "--out", "x.gif"], "not a video suffix"),
])
def test_bad_input_exits_2_with_one_line(args, msg, fake_backend):
    res = CliRunner().invoke(cli, ["stream", *args])
    assert res.exit_code == 2 and msg in res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("error:")]


def test_cli_run_writes_mp4_and_stats(tmp_path, fake_backend):
    ir, vis = clip_pair(tmp_path)
    res = CliRunner().invoke(cli, ["stream", "--ir", f"file://{ir}", "--vis", f"file://{vis}", "--max-frames", "20",
                                   "--out", str(tmp_path / "o.mp4"), "--stats", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    assert "20 pairs" in res.output and count_frames(tmp_path / "o.mp4") == 20
    assert json.loads((tmp_path / "s.json").read_text())["frames_out"] == 20


def test_cli_stall_is_reported(tmp_path, fake_backend):
    start = time.monotonic()
    res = CliRunner().invoke(cli, ["stream", "--ir", "synthetic://ir?size=32x32&stall_after=4", "--vis",
                                   "synthetic://vis?size=32x32", "--stall-timeout", "0.5", "--stats",
                                   str(tmp_path / "s.json")])
    assert res.exit_code == 1 and "error: synthetic://ir" in res.output and "no frame" in res.output
    assert time.monotonic() - start < 4 and (tmp_path / "s.json").is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_file_leaves_playable_mp4_and_stats(tmp_path, sig):
    ir, vis = clip_pair(tmp_path)
    out, stats = tmp_path / "fused.mp4", tmp_path / "stats.json"
    cmd = [sys.executable, "-c", LAUNCH, "stream", "--ir", f"file://{ir}?realtime=1", "--vis",
           f"file://{vis}?realtime=1", "--out", str(out), "--stats", str(stats)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        partial = tmp_path / ".fused.partial.mp4"
        # the first run of the default backend exports the student to ONNX once (seconds on a loaded
        # machine): wait until frames are being written before interrupting
        deadline = time.monotonic() + 90
        while not partial.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert partial.exists(), "the stream wrote no frame within 90 s"
        time.sleep(1.0)  # about a second of video, then Ctrl-C in the middle of the 5 s clip
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, output  # 130 after SIGINT, 143 after SIGTERM, as shells report it
    assert f"stopped by {sig.name}" in output and "terminate called" not in output
    data = json.loads(stats.read_text())
    assert {"pairs", "dropped_ir", "dropped_vis", "skew_ms", "fps", "latency_ms", "backend"} <= set(data)
    assert data["stopped_by"] == sig.name and 0 < data["frames_out"] < 140
    assert count_frames(out) == data["frames_out"] and not partial.exists()
