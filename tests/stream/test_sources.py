"""Sources by URI: synthetic scenes, re-timing, mp4 files, image folders, stalls and URI errors."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edgefuse.errors import ConfigError, DataError, StreamError, StreamTimeout
from edgefuse.stream import open_source
from edgefuse.stream.sources import SyntheticSource, decode_index, split_uri
from tests.stream.helpers import m3svd, write_clip


def read_all(src, limit=10_000):
    frames = []
    with src:
        while src.is_streaming and len(frames) < limit:
            f = src.read(0.5)
            if f is not None:
                frames.append(f)
    return frames


def test_split_uri():
    assert split_uri("file://a/b.mp4?jitter_ms=3") == ("file", "a/b.mp4", {"jitter_ms": "3"})
    assert split_uri("clip.mp4") == ("file", "clip.mp4", {})
    assert split_uri("rtsp://cam/x?channel=1") == ("rtsp", "cam/x?channel=1", {})  # query stays the camera's


def test_synthetic_source_frames_timestamps_and_index_code():
    frames = read_all(open_source("synthetic://ir?size=128x96&frames=12&fps=25"))
    assert [f.index for f in frames] == list(range(12))
    assert np.allclose([f.ts for f in frames], np.arange(12) / 25)
    assert frames[0].image.shape == (96, 128) and frames[0].image.dtype == np.uint8
    assert [decode_index(f.image) for f in frames] == list(range(12))
    vis = read_all(open_source("synthetic://vis?size=64x48&frames=2"))
    assert vis[1].image.shape == (48, 64, 3)
    assert not np.array_equal(frames[0].image, frames[5].image)  # the scene moves


def test_retimed_source_offsets_jitters_drops_and_keeps_indices():
    src = open_source("synthetic://vis?size=32x32&frames=300&offset_ms=100&jitter_ms=5&drop=0.2&seed=4")
    frames = read_all(src)
    assert 200 < len(frames) < 280 and len(frames) + len(src.dropped) == 300
    idx = np.array([f.index for f in frames])
    err = np.array([f.ts for f in frames]) - (idx / 30 + 0.1)
    assert np.abs(err).max() <= 0.005 and np.abs(err).max() > 0.001
    assert set(idx).isdisjoint(src.dropped)
    again = read_all(open_source("synthetic://vis?size=32x32&frames=300&offset_ms=100&jitter_ms=5&drop=0.2&seed=4"))
    assert [f.ts for f in again] == [f.ts for f in frames]  # seeded: reproducible


def test_realtime_synthetic_is_paced():
    start = time.monotonic()
    frames = read_all(open_source("synthetic://vis?size=32x32&frames=6&fps=50&realtime=1"))
    assert len(frames) == 6 and time.monotonic() - start >= 0.09


def test_stalled_source_raises_within_the_timeout():
    src = open_source("synthetic://vis?size=32x32&stall_after=3", stall_timeout=0.4)
    got, start = 0, time.monotonic()
    with pytest.raises(StreamTimeout, match="delivered no frame"), src:
        while time.monotonic() - start < 5:
            got += src.read(0.1) is not None
    assert got == 3 and time.monotonic() - start < 2


def test_mp4_file_source_timestamps_from_container(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", "vis", frames=20, fps=25)
    frames = read_all(open_source(f"file://{clip}"))
    assert [f.index for f in frames] == list(range(20))
    assert np.allclose([f.ts for f in frames], np.arange(20) / 25, atol=1e-3)
    assert [decode_index(f.image) for f in frames] == list(range(20))
    assert frames[0].image.shape == (120, 160, 3)


def test_folder_source_fps_glob_and_csv(tmp_path):
    synth = SyntheticSource("s", size=(64, 48))
    for i in range(6):
        cv2.imwrite(str(tmp_path / f"a_{i:03d}.png"), synth.render(i))
    cv2.imwrite(str(tmp_path / "b_000.png"), synth.render(0))
    frames = read_all(open_source(f"file://{tmp_path}/?fps=10&glob=a_*"))
    assert len(frames) == 6 and np.allclose([f.ts for f in frames], np.arange(6) / 10)
    assert [decode_index(f.image) for f in frames] == list(range(6))
    (tmp_path / "ts.csv").write_text("name,ts_ms\n" + "".join(f"a_{i:03d}.png,{1000 + 40 * i}\n" for i in (0, 2, 5)))
    frames = read_all(open_source(f"file://{tmp_path}?csv=ts.csv"))
    assert [f.ts for f in frames] == pytest.approx([1.0, 1.08, 1.2])


@pytest.mark.parametrize("uri,err", [
    ("foo://x", ConfigError), ("", ConfigError), ("file:///nonexistent/clip.mp4", DataError),
    ("synthetic://vis?fpss=3", ConfigError), ("synthetic://uv", ConfigError), ("synthetic://vis?fps=x", ConfigError),
    ("synthetic://vis?size=10", ConfigError), ("v4l2:///dev/video99", StreamError), ("csi://x", ConfigError),
    ("synthetic://vis?drop=1.5", ConfigError),
])
def test_bad_uris_fail_with_clear_errors(uri, err):
    with pytest.raises(err) as e:
        open_source(uri)
    assert e.value.exit_code in (1, 2) and "\n" not in str(e.value)


def test_unknown_scheme_suggests(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'file'"):
        open_source("fille://x.mp4")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="neither a folder"):
        open_source(str(tmp_path / "x.txt"))


def test_m3svd_clip_source():
    clip = m3svd() / "video" / "ir" / "0111_1716.mp4"
    frames = read_all(open_source(f"file://{clip}"))
    assert len(frames) == 151 and frames[0].image.shape == (480, 640, 3)
    assert np.allclose(np.diff([f.ts for f in frames]), 1 / 30, atol=1e-3)


def test_m3svd_png_sequence_source():
    root = m3svd() / "stream"
    frames = read_all(open_source(f"file://{root}/vi/?glob=0115_1834_*&fps=30"))
    assert len(frames) == 20 and frames[-1].ts == pytest.approx(19 / 30)


def test_live_capture_reconnects_with_backoff_then_gives_up(tmp_path, monkeypatch):
    from edgefuse.stream import camera

    monkeypatch.setattr(camera, "BACKOFF_START_S", 0.05)
    clip = write_clip(tmp_path / "cam.mp4", "vis", frames=8, size=(64, 48))
    # a "camera" that delivers its frames and disconnects; the device is gone (the open file
    # handle keeps delivering, as Linux keeps an unlinked file readable), so reconnects fail
    src = camera.CaptureSource("test://cam", str(clip), cv2.CAP_FFMPEG, stall_timeout=1.0, max_reconnects=2)
    opened = src._capture

    class PacedCapture:  # a camera delivers at its frame rate; an unpaced file can outrun the reader
        def __init__(self) -> None:  # and lose frames to the newest-wins buffer on a loaded machine
            self.cap = opened()

        def read(self):
            time.sleep(0.03)
            return self.cap.read()

        def __getattr__(self, name):
            return getattr(self.cap, name)

    monkeypatch.setattr(src, "_capture", PacedCapture)
    frames, start = [], time.monotonic()
    with pytest.raises(StreamTimeout, match="gave up after 2 reconnect attempts"), src:
        while time.monotonic() - start < 5:
            f = src.read(0.2)
            if f is not None:
                frames.append(f)
            if frames and clip.exists():
                clip.unlink()
    assert len(frames) == 8, len(frames)  # every frame of the clip, then the reconnects fail
    assert src.reconnects == 2
    assert time.monotonic() - start < 3
    assert np.all(np.diff([f.index for f in frames]) > 0) and np.all(np.diff([f.ts for f in frames]) > 0)


def test_live_capture_open_failure_is_clear(tmp_path):
    from edgefuse.stream.camera import CaptureSource

    with pytest.raises(StreamError, match="cannot open"):
        CaptureSource("test://none", str(tmp_path / "none.mp4"), cv2.CAP_FFMPEG).open()
