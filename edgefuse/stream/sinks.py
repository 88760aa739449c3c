"""Where fused frames go: an mp4 file, a folder of images, an on-screen window (and the web viewer).

Sinks are chosen from ``--out`` values the way jetson-utils' ``videoOutput`` picks them from
URIs: ``clip.mp4`` (video file), ``frames/`` (image folder), ``display://`` (window) and
``http://HOST:PORT`` (the web viewer in ``viewer.py``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgefuse.data.images import write_image
from edgefuse.errors import ConfigError, DataError, StreamError
from edgefuse.stream.sync import FramePair

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


@dataclass
class Fused:
    """One pipeline result: the fused frame and the inputs it came from (all RGB/grey uint8)."""

    seq: int
    fused: np.ndarray
    vis: np.ndarray
    ir: np.ndarray  # registered onto the visible frame
    pair: FramePair


class Sink(ABC):
    """Receives ``Fused`` results in order; ``close`` finalises (files become complete)."""

    name = "sink"

    def open(self) -> None:
        """Acquire resources (servers, windows); files open lazily on the first frame."""

    @abstractmethod
    def write(self, item: Fused) -> None:
        """Consume one fused result (in pairing order)."""

    def close(self) -> None:
        """Finalise; must be safe to call twice."""

    def attach_stats(self, fn: Callable[[], dict[str, Any]]) -> None:
        """Give the sink a function returning live stats (used by the web viewer)."""

    def describe(self) -> str:
        return self.name


class VideoSink(Sink):
    """Writes an mp4 (MPEG-4 Part 2, ``mp4v``) with OpenCV.

    Frames go to a hidden ``.<name>.partial<suffix>`` file that ``close`` renames over the
    target once the writer has written the index, so the final name is always playable.
    """

    name = "video"

    def __init__(self, path: Path, fps: float = 30.0) -> None:
        if fps <= 0:
            raise ConfigError(f"output fps {fps} must be > 0")
        self.path, self.fps = path, fps
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, item: Fused) -> None:
        h, w = item.fused.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(self.path.suffix.lower(), "mp4v"))
            self._writer = cv2.VideoWriter(str(self.partial), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise StreamError(f"cannot write video {self.path}: OpenCV has no encoder for it here; "
                                  "write an image folder instead (--out DIR/)")
            self._size = (w, h)
        if (w, h) != self._size:
            raise StreamError(f"frame size changed from {self._size} to {(w, h)} while writing {self.path}")
        self._writer.write(cv2.cvtColor(item.fused, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()  # writes the mp4 index (moov atom): without it the file is unplayable
            self._writer = None
            os.replace(self.partial, self.path)
            logger.info("wrote %s (%d frames, %.0f fps)", self.path, self.frames, self.fps)

    def describe(self) -> str:
        return str(self.path)


class FolderSink(Sink):
    """Writes ``<seq>.png`` (or another image suffix) per frame into a folder."""

    name = "folder"

    def __init__(self, folder: Path, ext: str = ".png") -> None:
        if ext not in IMAGE_EXTS:
            raise ConfigError(f"image suffix {ext!r} must be one of {', '.join(IMAGE_EXTS)}")
        if folder.exists() and not folder.is_dir():
            raise DataError(f"output {folder} exists and is not a folder")
        self.folder, self.ext = folder, ext
        self.frames = 0

    def write(self, item: Fused) -> None:
        write_image(self.folder / f"{item.seq:06d}{self.ext}", item.fused)
        self.frames += 1

    def describe(self) -> str:
        return f"{self.folder}/"


class WindowSink(Sink):
    """Shows frames in an OpenCV window where a display and HighGUI exist."""

    name = "window"

    def __init__(self, title: str = "edgefuse stream") -> None:
        self.title = title
        self._ok = False

    def open(self) -> None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise StreamError("display:// needs a display (DISPLAY is not set); use --out http://0.0.0.0:8080 "
                              "to watch in a browser")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error as e:  # opencv-python-headless has no HighGUI
            raise StreamError("this OpenCV has no window support (opencv-python-headless); use the web viewer "
                              "(--out http://0.0.0.0:8080) or install opencv-python") from e
        self._ok = True

    def write(self, item: Fused) -> None:
        if self._ok:
            cv2.imshow(self.title, cv2.cvtColor(item.fused, cv2.COLOR_RGB2BGR))
            cv2.waitKey(1)

    def close(self) -> None:
        if self._ok:
            cv2.destroyWindow(self.title)
            self._ok = False


def draw_overlay(img: np.ndarray, fps: float, latency_ms: float, extra: str = "") -> np.ndarray:
    """A copy of ``img`` with FPS and latency written in the top-left corner."""
    out = img.copy()
    text = f"{fps:5.1f} FPS  {latency_ms:6.1f} ms" + (f"  {extra}" if extra else "")
    scale = max(0.4, img.shape[1] / 1280)
    org = (8, int(24 * scale / 0.6))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def create_sink(spec: str, fps: float = 30.0) -> Sink:
    """A sink for one ``--out`` value: ``x.mp4``, ``DIR/``, ``display://`` or ``http://HOST:PORT``.

    Raises:
        ConfigError: a value that names no sink.
    """
    if spec.startswith("http://"):
        from edgefuse.stream.viewer import ViewerSink, parse_address

        return ViewerSink(*parse_address(spec))
    if spec.startswith("display://") or spec == "window":
        return WindowSink()
    if "://" in spec and not spec.startswith("file://"):
        raise ConfigError(f"--out {spec!r}: unknown output; use a video file (.mp4), a folder (DIR/), "
                          "http://HOST:PORT (web viewer) or display://")
    path = Path(spec.removeprefix("file://")).expanduser()
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoSink(path, fps)
    if spec.endswith(("/", os.sep)) or path.is_dir() or not suffix:
        return FolderSink(path)
    raise ConfigError(f"--out {spec!r}: {suffix!r} is not a video suffix ({', '.join(VIDEO_SUFFIXES)}); "
                      "give a folder (ending in /) for images")


__all__ = ["Fused", "FolderSink", "Sink", "VideoSink", "WindowSink", "create_sink", "draw_overlay"]
