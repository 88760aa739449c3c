"""Live cameras for real: an RTSP server with two 30 fps mounts whose frames carry their capture time.

``rtsp_camera.py`` (GstRtspServer, Debian's GStreamer packages) serves ``/ir`` and ``/vis`` on
127.0.0.1; every frame has its ``time.monotonic()`` capture time written into its pixels. The
real ``edgefuse stream`` CLI runs in a subprocess with ``--method max`` (which keeps both stamps
in the fused frame) and a folder output whose ``frames.csv`` records when each frame was
written, so the test reads, per output pair, the true capture times of both frames and the true
capture-to-write latency. It checks every pair within the tolerance, the first pair, drops per
side, latency p50/p99, exit 0 at --max-frames and 130 at SIGINT, and no abort.

The checks need PyGObject, GstRtspServer and x264enc/avdec_h264; where they are missing the
tests skip and say which. ``.ci/run`` installs them.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.stream.rtsp_camera import decode_stamps

REPO = Path(__file__).resolve().parents[2]
PAIRS = 300
# frames of one capture instant carry equal stamps, the next candidate is 33 ms away. On a machine loaded far
# beyond its cores (other jobs plus the whole test suite) the estimated capture times drifted by up to ~20-50 ms
# for some frames and a few pairs were made 33 ms apart; the run is then repeated once (both reports printed).
TOL_MS = 20.0
ATTEMPTS = 2


def _missing() -> str:
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import Gst, GstRtspServer  # noqa: F401
    except (ImportError, ValueError) as e:
        return f"PyGObject with GStreamer and GstRtspServer is not importable ({e}); see README 'Live streaming'"
    Gst.init(None)
    for el in ("x264enc", "rtph264pay", "rtspsrc", "avdec_h264", "appsrc", "appsink"):
        if Gst.ElementFactory.find(el) is None:
            return f"the GStreamer element {el} is not installed (Debian: gstreamer1.0-plugins-ugly/-good/-libav)"
    return ""


MISSING = _missing()
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")


@pytest.fixture(scope="module")
def rtsp_server():
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "stream" / "rtsp_camera.py")], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("READY"):
            pytest.fail(f"the RTSP test server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield f"rtsp://127.0.0.1:{int(line.split()[1])}"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def stream(args: list[str], timeout: float = 90.0, sig: int | None = None, after: float = 0.0) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "edgefuse.cli.main", "stream", *args]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        if sig is not None:
            time.sleep(after)
            proc.send_signal(sig)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out


def true_times(folder: Path) -> dict[str, np.ndarray]:
    """Per output frame: decoded IR/visible capture ms and the written time (ms) from frames.csv."""
    with (folder / "frames.csv").open() as f:
        rows = list(csv.DictReader(f))
    ir, vis, written, stamped_ir = [], [], [], []
    for r in rows:
        img = cv2.imread(str(folder / f"{int(r['seq']):06d}.png"), cv2.IMREAD_GRAYSCALE)
        a, b = decode_stamps(img)
        ir.append(a)
        vis.append(b)
        written.append(float(r["written"]) * 1000.0)
        stamped_ir.append(float(r["ir_capture"]) * 1000.0)
    mod = float(1 << 32)
    written_a = np.asarray(written)
    return {"ir": np.asarray(ir, float), "vis": np.asarray(vis, float),
            "latency": (written_a - np.asarray(ir, float)) % mod, "stamped_ir": np.asarray(stamped_ir)}


def report(name: str, t: dict[str, np.ndarray], stats: dict) -> str:
    skew = np.abs(t["ir"] - t["vis"])
    return (f"{name}: {len(skew)} pairs, true skew max {skew.max():.1f} ms, pairs > {TOL_MS:g} ms: "
            f"{int((skew > TOL_MS).sum())}, first pair {skew[0]:.1f} ms apart, dropped ir/vis "
            f"{stats['dropped_ir']}/{stats['dropped_vis']}, overwritten {stats['overwritten_ir']}/"
            f"{stats['overwritten_vis']}, true latency p50/p99 {np.percentile(t['latency'], 50):.1f}/"
            f"{np.percentile(t['latency'], 99):.1f} ms; reported skew max {stats['skew_ms']['max']:.1f} ms, "
            f"latency p50 {stats['latency_ms']['p50']:.1f} ms")


def test_rtsp_300_pairs_from_capture_times(rtsp_server, tmp_path):
    problems: list[str] = []
    for attempt in range(ATTEMPTS):
        out, stats_path = tmp_path / f"out{attempt}", tmp_path / f"stats{attempt}.json"
        code, log = stream(["--ir", f"{rtsp_server}/ir", "--vis", f"{rtsp_server}/vis", "--method", "max",
                            "--max-frames", str(PAIRS), "--out", f"{out}/", "--stats", str(stats_path),
                            "--tolerance-ms", str(TOL_MS)])
        # lifecycle: never retried
        assert code == 0, log
        assert "terminate called" not in log and "Aborted" not in log
        stats = json.loads(stats_path.read_text())
        assert stats["pairs"] == PAIRS and stats["stopped_by"] == "max frames" and stats["error"] is None
        assert stats["sources"]["ir"]["kind"] == stats["sources"]["vis"]["kind"] == "gstreamer"
        t = true_times(out)
        print(f"attempt {attempt + 1}: " + report("gstreamer", t, stats))
        skew = np.abs(t["ir"] - t["vis"])
        assert len(skew) == stats["frames_out"]
        problems = []
        if stats["frames_out"] < PAIRS - 5:  # frames the sink could not take in time: overload, retried
            problems.append(f"only {stats['frames_out']} of {PAIRS} pairs written")
        if skew[0] > TOL_MS:
            problems.append(f"the first pair is {skew[0]:.0f} ms apart")
        if (skew > TOL_MS).any():
            problems.append(f"{int((skew > TOL_MS).sum())} pairs further apart than {TOL_MS} ms")
        if stats["dropped_ir"] > 20 or stats["dropped_vis"] > 20:  # a few at the start (one camera opens first)
            problems.append(f"dropped {stats['dropped_ir']}/{stats['dropped_vis']}")
        if np.percentile(t["latency"], 50) >= 250 or np.percentile(t["latency"], 99) >= 1000:
            problems.append("latency")
        # the capture time edgefuse measured is the true one within a few frame periods
        if np.median(np.abs(t["stamped_ir"] % float(1 << 32) - t["ir"])) >= 150:
            problems.append("estimated capture times are far from the true ones")
        if not problems:
            return
    pytest.fail("; ".join(problems))


def test_rtsp_sigint_exits_130_and_says_why(rtsp_server, tmp_path):
    code, log = stream(["--ir", f"{rtsp_server}/ir", "--vis", f"{rtsp_server}/vis", "--method", "max",
                        "--stats", str(tmp_path / "s.json")], sig=signal.SIGINT, after=4.0)
    assert code == 130, log
    assert "stopped by SIGINT" in log and "terminate called" not in log
    assert json.loads((tmp_path / "s.json").read_text())["stopped_by"] == "SIGINT"


def test_rtsp_opencv_path_exits_cleanly(rtsp_server, tmp_path):
    """The OpenCV fallback (arrival times): no abort at --max-frames; its pairing is reported, not asserted."""
    out, stats_path = tmp_path / "out", tmp_path / "stats.json"
    code, log = stream(["--ir", f"{rtsp_server}/ir?capture=opencv", "--vis", f"{rtsp_server}/vis?capture=opencv",
                        "--method", "max", "--max-frames", "150", "--out", f"{out}/", "--stats", str(stats_path)])
    assert code == 0 and "terminate called" not in log, log
    stats = json.loads(stats_path.read_text())
    assert stats["sources"]["ir"]["kind"] == "opencv" and stats["pairs"] == 150
    print(report("opencv", true_times(out), stats))


def test_unreachable_camera_open_honours_stall_timeout(tmp_path):
    import socket

    with socket.socket() as s:  # a port that accepts TCP but never speaks RTSP
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        start = time.monotonic()
        code, log = stream(["--ir", f"rtsp://user:hunter2@127.0.0.1:{port}/x?reconnect=0", "--vis",
                            "synthetic://vis?realtime=1", "--method", "max", "--stall-timeout", "1.5",
                            "--stats", str(tmp_path / "s.json")], timeout=30)
        took = time.monotonic() - start
    assert code == 1 and took < 12, (took, log)
    assert "hunter2" not in log and "error:" in log
    st = json.loads((tmp_path / "s.json").read_text())
    assert st["stopped_by"] == "error" and st["error"] and "hunter2" not in json.dumps(st)


def test_sigint_during_a_slow_open_exits_130_at_once():
    import socket

    with socket.socket() as s:  # accepts TCP, never answers: the open would wait the whole stall timeout
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        start = time.monotonic()
        code, log = stream(["--ir", f"rtsp://127.0.0.1:{s.getsockname()[1]}/x", "--vis", "synthetic://vis",
                            "--method", "max", "--stall-timeout", "30"], timeout=40, sig=signal.SIGINT, after=2.5)
        took = time.monotonic() - start
    assert code == 130 and took < 10, (took, log)  # the handler was installed before the sources opened
    assert "stopped by SIGINT" in log
