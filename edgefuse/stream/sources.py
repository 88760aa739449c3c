"""Sources by URI: ``file://`` clips and image folders, ``synthetic://`` scenes, and the registry.

URIs follow jetson-utils' ``videoSource`` scheme (``file://``, ``v4l2://``, ``csi://``,
``rtsp://``); live cameras are in ``camera.py``. ``file://`` and ``synthetic://`` take query
options (``?fps=30&jitter_ms=5``), including the re-timing options of ``RetimedSource``.
"""

from __future__ import annotations

import csv
import fnmatch
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import cv2
import numpy as np

from edgefuse.data.images import IMAGE_SUFFIXES, read_rgb, round_u8
from edgefuse.errors import ConfigError, DataError, StreamError, did_you_mean
from edgefuse.registry import Registry
from edgefuse.stream.frames import Frame, RetimedSource, Source, warn_once

logger = logging.getLogger(__name__)

SourceFactory = Callable[[str, dict[str, str], float], Source]
SOURCES: Registry[SourceFactory] = Registry("stream source scheme")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".ts")
RETIME_KEYS = ("offset_ms", "jitter_ms", "drop", "seed")


def split_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """``scheme://rest?k=v`` -> (scheme, rest, {k: v}); a bare path is ``file``."""
    if "://" not in uri:
        return "file", uri, {}
    scheme, rest = uri.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("rtsp", "gst"):  # the query belongs to the camera URL
        return scheme, rest, {}
    rest, _, query = rest.partition("?")
    return scheme, rest, dict(parse_qsl(query, keep_blank_values=True))


def _number(query: dict[str, str], key: str, default: float, uri: str) -> float:
    """``query[key]`` as a float (``default`` when absent)."""
    try:
        return float(query[key]) if key in query else default
    except ValueError as e:
        raise ConfigError(f"{uri}: option {key}={query[key]!r} is not a number") from e


def _integer(query: dict[str, str], key: str, default: int, uri: str) -> int:
    """``query[key]`` as an int (``default`` when absent)."""
    try:
        return int(query[key]) if key in query else default
    except ValueError as e:
        raise ConfigError(f"{uri}: option {key}={query[key]!r} is not a whole number") from e


def _check_keys(query: dict[str, str], allowed: tuple[str, ...], uri: str) -> None:
    for key in query:
        if key not in allowed:
            raise ConfigError(f"{uri}: unknown option {key!r}.{did_you_mean(key, allowed)} "
                              f"Known: {', '.join(allowed)}")


def _size(text: str, uri: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as e:
        raise ConfigError(f"{uri}: size={text!r} must be WIDTHxHEIGHT, e.g. 640x480") from e
    if w < 16 or h < 16:
        raise ConfigError(f"{uri}: size={text!r} is too small (at least 16x16)")
    return w, h


def _retimed(src: Source, query: dict[str, str], uri: str) -> Source:
    if not any(k in query for k in RETIME_KEYS):
        return src
    return RetimedSource(src, offset_ms=_number(query, "offset_ms", 0.0, uri),
                         jitter_ms=_number(query, "jitter_ms", 0.0, uri), drop=_number(query, "drop", 0.0, uri),
                         seed=_integer(query, "seed", 0, uri))


class _Pacer:
    """Sleeps so frames come out at their timestamps' pace (``realtime=1``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._origin: tuple[float, float] | None = None

    def wait(self, ts: float) -> float | None:
        """Sleep until ``ts``'s moment; return that moment on ``time.monotonic()`` (None when unpaced)."""
        if not self.enabled:
            return None
        if self._origin is None:
            self._origin = (time.monotonic(), ts)
        due = self._origin[0] + (ts - self._origin[1])
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return due


class VideoFileSource(Source):
    """A video file decoded by OpenCV (FFmpeg); timestamps are the container's PTS."""

    def __init__(self, path: Path, uri: str, stall_timeout: float = 5.0, realtime: bool = False) -> None:
        super().__init__(uri, stall_timeout)
        self.path = path
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._fps = 30.0
        self._count = 0
        self._last_ts = -1.0
        self._pacer = _Pacer(realtime)
        self.paced = realtime

    def set_realtime(self, on: bool) -> None:
        """Pace frames to their timestamps (the runner turns this on for a live output)."""
        self._pacer.enabled = self.paced = on

    @property
    def fps(self) -> float:
        return self._fps

    def _open(self) -> None:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise StreamError(f"cannot open video {self.path}: OpenCV/FFmpeg cannot decode it")
        self._fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        self._count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._cap = cap

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _read(self, timeout: float) -> Frame | None:
        assert self._cap is not None
        if not self._cap.grab():
            self._streaming = False  # end of file ends the stream
            self._check_complete()
            return None
        ts = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if ts <= self._last_ts:  # some containers/backends give no PTS: fall back to index / fps
            warn_once(f"{self.path}: no usable container timestamps; using frame index / {self._fps:g} fps")
            ts = self._index / self._fps
        self._last_ts = ts
        due = self._pacer.wait(ts)  # pace before decoding and stamping, so waiting is not latency
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            self._streaming = False
            self._check_complete()
            return None
        frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts, self._index, self.uri, capture=due)
        self._index += 1
        return frame

    def _check_complete(self) -> None:
        """A clip that ends well before the frame count in its index is truncated or corrupt: say so."""
        if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") and self._count > 2 and \
                self._index < 0.95 * self._count - 1:
            raise StreamError(f"{self.uri}: the video ended after {self._index} of the {self._count} frames its "
                              "index lists (truncated or corrupt file?)")


def _csv_timestamps(path: Path) -> dict[str, float]:
    """``name,ts`` (seconds) or ``name,ts_ms`` rows -> {file name: seconds}."""
    if not path.is_file():
        raise DataError(f"timestamp CSV not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise DataError(f"{path} has no rows; expected columns name,ts (seconds) or name,ts_ms")
    cols = set(rows[0])
    name_col = "name" if "name" in cols else "file" if "file" in cols else None
    ts_col, scale = ("ts", 1.0) if "ts" in cols else ("ts_ms", 1e-3) if "ts_ms" in cols else (None, 1.0)
    if name_col is None or ts_col is None:
        raise DataError(f"{path} has columns {sorted(cols)}; expected name (or file) and ts (or ts_ms)")
    try:
        return {r[name_col]: float(r[ts_col]) * scale for r in rows}
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: a {ts_col} value is not a number ({e})") from e


class ImageFolderSource(Source):
    """An image sequence in a folder, in name order, at ``fps`` or with timestamps from a CSV."""

    def __init__(self, folder: Path, uri: str, stall_timeout: float = 5.0, fps: float = 30.0,
                 pattern: str = "*", timestamps: dict[str, float] | None = None, realtime: bool = False) -> None:
        super().__init__(uri, stall_timeout)
        if fps <= 0:
            raise ConfigError(f"{uri}: fps={fps} must be > 0")
        self.folder = folder
        self.fps = fps
        self.files = sorted(p for p in folder.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and fnmatch.fnmatch(p.name, pattern))
        if timestamps is not None:
            self.files = [p for p in self.files if p.name in timestamps]
        if not self.files:
            raise DataError(f"{uri}: no images matching {pattern!r} in {folder} "
                            f"(suffixes {', '.join(IMAGE_SUFFIXES)}{', listed in the CSV' if timestamps else ''})")
        self.timestamps = timestamps
        self._index = 0
        self._pacer = _Pacer(realtime)
        self.paced = realtime

    def _open(self) -> None:
        self._index = 0

    def _read(self, timeout: float) -> Frame | None:
        if self._index >= len(self.files):
            self._streaming = False
            return None
        path = self.files[self._index]
        ts = self.timestamps[path.name] if self.timestamps is not None else self._index / self.fps
        due = self._pacer.wait(ts)  # pace before reading, so waiting is not counted as latency
        frame = Frame(read_rgb(path), ts, self._index, self.uri, capture=due)
        self._index += 1
        return frame

    def set_realtime(self, on: bool) -> None:
        """Pace frames to their timestamps (the runner turns this on for a live output)."""
        self._pacer.enabled = self.paced = on


class SyntheticSource(Source):
    """A generated scene (moving hot disc and box over a gradient) for tests and demos.

    ``mode`` ``vis`` gives colour frames, ``ir`` grey ones. Frame ``i`` has ``ts = i / fps``
    and its index written as 16 black/white cells along the top rows (``decode_index``).
    ``stall_after=N`` stops delivering after N frames without ending the stream, as a
    hung camera does.
    """

    def __init__(self, uri: str, mode: str = "vis", fps: float = 30.0, size: tuple[int, int] = (640, 480),
                 frames: int = 0, stall_after: int = 0, realtime: bool = False, stall_timeout: float = 5.0) -> None:
        super().__init__(uri, stall_timeout)
        if mode not in ("vis", "ir"):
            raise ConfigError(f"{uri}: synthetic mode {mode!r} must be 'vis' or 'ir' (synthetic://ir?...)")
        if fps <= 0:
            raise ConfigError(f"{uri}: fps={fps} must be > 0")
        self.mode, self.fps, self.size = mode, fps, size
        self.kind = "synthetic"
        self.frames, self.stall_after = frames, stall_after
        self._pacer = _Pacer(realtime)
        self.paced = realtime
        self._index = 0
        w, h = size
        ramp = np.linspace(40, 140, w, dtype=np.float32)[None, :] + np.linspace(0, 60, h, dtype=np.float32)[:, None]
        self._background = round_u8(ramp)

    def _open(self) -> None:
        self._index = 0

    def render(self, i: int) -> np.ndarray:
        w, h = self.size
        t = i / self.fps
        grey = self._background.copy()
        cx, cy = int(w * (0.5 + 0.35 * np.sin(t * 1.3))), int(h * (0.55 + 0.3 * np.cos(t * 0.9)))
        cv2.circle(grey, (cx, cy), max(4, h // 8), 235 if self.mode == "ir" else 60, -1)
        bx = int((t * 0.15 % 1.0) * (w - w // 5))
        cv2.rectangle(grey, (bx, h // 4), (bx + w // 5, h // 4 + h // 6), 180 if self.mode == "ir" else 210, -1)
        _write_index(grey, i)
        if self.mode == "ir":
            return grey
        rgb = np.stack([grey, np.clip(grey.astype(np.int16) + 20, 0, 255).astype(np.uint8), grey // 2], axis=2)
        return rgb

    def _read(self, timeout: float) -> Frame | None:
        if self.frames and self._index >= self.frames:
            self._streaming = False
            return None
        if self.stall_after and self._index >= self.stall_after:
            time.sleep(timeout)  # a hung camera: nothing comes, the stream does not end
            return None
        i = self._index
        ts = i / self.fps
        due = self._pacer.wait(ts)
        self._index += 1
        return Frame(self.render(i), ts, i, self.uri, capture=due)


_CELLS = 16


def _write_index(grey: np.ndarray, i: int) -> None:
    cell = grey.shape[1] // _CELLS
    rows = max(2, grey.shape[0] // 24)
    for b in range(_CELLS):
        grey[:rows, b * cell:(b + 1) * cell] = 255 if (i >> b) & 1 else 0


def decode_index(img: np.ndarray) -> int:
    """The frame index a ``SyntheticSource`` wrote into ``img`` (grey or RGB, any later warp-free copy)."""
    grey = img if img.ndim == 2 else img.mean(axis=2)
    cell = grey.shape[1] // _CELLS
    rows = max(2, grey.shape[0] // 24)
    bits = [grey[: rows, b * cell + cell // 4:(b + 1) * cell - cell // 4].mean() > 127 for b in range(_CELLS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


@SOURCES.register("file")
def _file_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"file://{rest}"
    path = Path(rest).expanduser()
    if not path.exists():
        raise DataError(f"{uri}: {path} does not exist (file://clip.mp4, file:///abs/clip.mp4 or file://folder/)")
    realtime = bool(_integer(query, "realtime", 0, uri))
    explicit = "realtime" in query
    if path.is_dir():
        _check_keys(query, ("fps", "glob", "csv", "realtime", *RETIME_KEYS), uri)
        stamps = _csv_timestamps(path / query["csv"]) if query.get("csv") else None  # absolute paths stay absolute
        src: Source = ImageFolderSource(path, uri, stall_timeout, fps=_number(query, "fps", 30.0, uri),
                                        pattern=query.get("glob", "*"), timestamps=stamps, realtime=realtime)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        _check_keys(query, ("realtime", *RETIME_KEYS), uri)
        src = VideoFileSource(path, uri, stall_timeout, realtime=realtime)
    else:
        raise DataError(f"{uri}: {path.name} is neither a folder of images nor a video "
                        f"({', '.join(VIDEO_SUFFIXES)})")
    src.realtime_explicit = explicit  # type: ignore[attr-defined]  (else the runner paces it for live outputs)
    return _retimed(src, query, uri)


@SOURCES.register("synthetic")
def _synthetic_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"synthetic://{rest}" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    _check_keys(query, ("fps", "size", "frames", "stall_after", "realtime", *RETIME_KEYS), uri)
    src = SyntheticSource(uri, mode=rest.strip("/") or "vis", fps=_number(query, "fps", 30.0, uri),
                          size=_size(query.get("size", "640x480"), uri), frames=_integer(query, "frames", 0, uri),
                          stall_after=_integer(query, "stall_after", 0, uri),
                          realtime=bool(_integer(query, "realtime", 0, uri)), stall_timeout=stall_timeout)
    return _retimed(src, query, uri)


def open_source(uri: str, stall_timeout: float = 5.0) -> Source:
    """Create (not yet open) the source for ``uri``.

    Raises:
        ConfigError: an unknown scheme or option.
        DataError: a file or folder that does not exist or holds no images.
    """
    if not uri:
        raise ConfigError("empty source URI; use e.g. file://clip.mp4, v4l2:///dev/video0 or synthetic://")
    scheme, rest, query = split_uri(uri)
    if scheme not in SOURCES:
        known = SOURCES.names()
        raise ConfigError(f"unknown source scheme {scheme + '://'!r} in {uri!r}.{did_you_mean(scheme, known)} "
                          f"Known: {', '.join(s + '://' for s in known)}")
    return SOURCES.get(scheme)(rest, query, stall_timeout)


__all__ = ["SOURCES", "ImageFolderSource", "SyntheticSource", "VideoFileSource", "decode_index",
           "open_source", "split_uri"]
