"""The HTTP viewer: endpoints over urllib, and the page in headless Chromium with a live, changing view."""

from __future__ import annotations

import json
import os
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
    assert parse_address("http://:8080") == ("127.0.0.1", 8080)  # no host: this machine only
    with pytest.raises(ConfigError):
        parse_address("http://host")
    assert isinstance(create_sink("http://127.0.0.1:0"), ViewerSink)


def test_endpoints_serve_page_frames_stats_and_mjpeg(live_viewer):
    runner, viewer = live_viewer
    page = get(viewer.url).decode()
    assert 'id="view"' in page and 'id="cam-ir"' in page and 'id="cam-vis"' in page and "/stream.mjpg" in page
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


SHOTS = os.environ.get("EDGEFUSE_SCREENSHOTS")  # a folder to keep the screenshots in (for a person to look at)


@pytest.mark.browser
def test_monitoring_page_in_headless_chromium_live_then_ended(tmp_path):
    """The page over the DevTools protocol: a live state (side-by-side view, iron palette) and the ended state.

    Asserts, from the DOM and the pixels: the state badge says replay (generated scenes, not cameras) then ended; the frame info
    names a pair with both timestamps; both camera panels show 'streaming' with their counters,
    then 'ended'; the charts have been drawn; the view canvas holds an image that moves; the
    side-by-side mode is three tiles wide; the page keeps being served after the stream ended.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    from tests.stream.cdp import Chromium

    viewer = ViewerSink("127.0.0.1", 0, linger=-1)
    cfg = StreamConfig(ir="synthetic://ir?size=320x240&fps=15&realtime=1&frames=105",
                       vis="synthetic://vis?size=320x240&fps=15&realtime=1&frames=105")
    runner = StreamRunner(cfg, FakeBackend(), sinks=[viewer])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while viewer.port == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    browser = Chromium(tmp_path / "profile")
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    try:
        browser.goto(viewer.url)
        browser.wait_for("window.edgefuse && edgefuse.frames() > 10 && edgefuse.state() === 'replay'")  # generated scenes are not cameras
        browser.wait_for("document.querySelector('#cam-ir .st').textContent === 'streaming'")
        info = browser.js("document.getElementById('frameinfo').textContent")
        assert info.startswith("pair ") and "IR #" in info and "visible #" in info and " s " in info
        a = browser.js("Array.from(document.getElementById('view').getContext('2d')"
                       ".getImageData(0,0,320,240).data.filter((_, i) => i % 4 == 0)).reduce((s, v) => s + v, 0)")
        time.sleep(0.5)
        b = browser.js("Array.from(document.getElementById('view').getContext('2d')"
                       ".getImageData(0,0,320,240).data.filter((_, i) => i % 4 == 0)).reduce((s, v) => s + v, 0)")
        assert a > 0 and a != b, "the fused view is blank or does not move"
        browser.js("document.querySelector('button[data-mode=side]').click();"
                   "const p = document.getElementById('palette'); p.value = 'iron'; p.dispatchEvent(new Event('change'))")
        browser.wait_for("document.getElementById('view').width === 960")  # three 320-px tiles of the same pair
        browser.wait_for("document.querySelector('#cam-vis .kv').textContent.includes('unpaired')")
        live = cv2.imread(str(browser.screenshot(shots / "viewer_live.png")))
        chart = browser.js("Array.from(document.getElementById('c-fps').getContext('2d')"
                           ".getImageData(0,0,280,34).data).some((v, i) => i % 4 == 3 && v > 0)")
        assert chart, "the fps chart was not drawn"
        thread.join(20)
        assert not thread.is_alive() and runner.stats["stopped_by"] == "end of stream"
        browser.wait_for("edgefuse.state() === 'ended'")
        browser.wait_for("document.querySelector('#cam-ir .st').textContent === 'ended'")
        ended = cv2.imread(str(browser.screenshot(shots / "viewer_ended.png")))
    finally:
        browser.close()
        viewer.shutdown()
    assert live.shape[:2] == (800, 1280) and ended.shape[:2] == (800, 1280)
    assert live[60:400, 20:900].std() > 10, "the live screenshot shows no picture"
    assert viewer.hits.get("/stream.mjpg", 0) == 1 and viewer.hits.get("/events", 0) >= 1  # pushed, not polled
    assert not viewer.hits.get("/fused.jpg")
