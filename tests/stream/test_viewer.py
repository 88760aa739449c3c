"""The HTTP viewer: endpoints over urllib, and the page in headless Chromium with a live, changing view."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgefuse.errors import ConfigError
from edgefuse.stream import StreamConfig, StreamRunner
from edgefuse.stream.sinks import create_sink
from edgefuse.stream.viewer import ViewerSink, parse_address
from tests.stream.helpers import FakeBackend

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (local test server)
        return r.read()


def jpeg(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture()
def live_viewer():
    """A paced synthetic stream served on a free port; yields (runner, viewer)."""
    viewer = ViewerSink("127.0.0.1", 0)
    cfg = StreamConfig(ir="synthetic://ir?size=320x240&fps=20&realtime=1",
                       vis="synthetic://vis?size=320x240&fps=20&realtime=1", overlay=True)
    runner = StreamRunner(cfg, FakeBackend(), sinks=[viewer])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while (viewer.port == 0 or runner.snapshot()["frames_out"] < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield runner, viewer
    runner.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_parse_address_and_create_sink():
    assert parse_address("http://0.0.0.0:8080") == ("0.0.0.0", 8080)
    with pytest.raises(ConfigError):
        parse_address("http://host")
    assert isinstance(create_sink("http://127.0.0.1:0"), ViewerSink)


def test_endpoints_serve_page_frames_stats_and_mjpeg(live_viewer):
    runner, viewer = live_viewer
    page = get(viewer.url).decode()
    assert 'id="fused"' in page and 'id="ir"' in page and 'id="vis"' in page and "/stats" in page
    first = jpeg(get(viewer.url + "fused.jpg"))
    assert first.shape == (240, 320, 3)
    assert jpeg(get(viewer.url + "ir.jpg")).shape[1] == 320
    time.sleep(0.4)
    assert np.abs(jpeg(get(viewer.url + "fused.jpg")).astype(int) - first).mean() > 0.5  # the view moves
    stats = json.loads(get(viewer.url + "stats"))
    assert stats["running"] and stats["pairs"] > 0 and stats["backend"] == "fake"
    with urllib.request.urlopen(viewer.url + "stream.mjpg", timeout=5) as r:  # noqa: S310
        assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        head = r.read(200)
        assert head.startswith(b"--frame\r\nContent-Type: image/jpeg")
    with pytest.raises(urllib.error.HTTPError):
        get(viewer.url + "nope")


def chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={user_dir}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.browser
def test_page_in_headless_chromium_loads_and_the_fused_view_changes(live_viewer, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    runner, viewer = live_viewer
    shots = []
    for k in range(2):  # each launch takes a second or more, so the two captures are apart in time
        png = tmp_path / f"shot{k}.png"
        res = chromium(f"--screenshot={png}", "--window-size=900,600", viewer.url, user_dir=tmp_path / f"u{k}")
        assert res.returncode == 0 and png.is_file(), res.stderr[-2000:]
        shots.append(cv2.imread(str(png)))
    assert viewer.hits.get("/", 0) >= 2 and viewer.hits.get("/fused.jpg", 0) >= 2  # the page and its image loaded
    assert viewer.hits.get("/stats", 0) >= 1  # the page's script ran
    a, b = (s[60:60 + 240, :320].astype(int) for s in shots)  # the fused <img> sits at the top left
    assert a.std() > 5, "the fused image was not rendered"
    assert np.abs(a - b).mean() > 0.5, "the fused view did not change between screenshots"
    assert runner.snapshot()["frames_out"] > 10
