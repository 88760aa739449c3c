"""Where fused frames go: an mp4 file, a folder of images, an on-screen window (and the web viewer).

Sinks are chosen from ``--out`` values the way jetson-utils' ``videoOutput`` picks them from
URIs: ``clip.mp4`` (video file), ``frames/`` (image folder), ``display://`` (window) and
``http://HOST:PORT`` (the web viewer in ``viewer.py``). Each is a kind in the ``SINKS``
registry (``sink_base.py``, with the ``Sink`` base class and the ``Fused`` record); this module
registers ``video``, ``folder`` and ``display`` and imports ``viewer.py``, which registers ``http``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edgefuse.data.images import write_bytes_atomic, write_image
from edgefuse.errors import ConfigError, DataError, EdgefuseError, StreamError
from edgefuse.stream import viewer as _viewer  # noqa: F401 (registers the http sink kind)
from edgefuse.stream.sink_base import SINKS, FpsFn, Fused, Sink, SinkKind, register_sink, sink_kind

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


CSV_HEADER = ["seq", "ir_index", "vis_index", "ir_ts", "vis_ts", "skew_ms", "ir_capture", "vis_capture", "written"]


def _csv_row(item: Fused, written: float) -> list[object]:
    p = item.pair
    return [item.seq, p.ir.index, p.vis.index, f"{p.ir.ts:.6f}", f"{p.vis.ts:.6f}", f"{p.skew_ms:.3f}",
            f"{p.ir.t_capture:.6f}", f"{p.vis.t_capture:.6f}", f"{written:.6f}"]


_H264: list[bool] = []


def has_h264() -> bool:
    """Whether this OpenCV can encode H.264 (``avc1``, which browsers play) into mp4."""
    if not _H264:
        saved = os.dup(2)  # FFmpeg prints its failed encoder probes on fd 2: keep them off the console
        try:
            with open(os.devnull, "wb") as null, tempfile.TemporaryDirectory() as d:
                os.dup2(null.fileno(), 2)
                w = cv2.VideoWriter(str(Path(d) / "probe.mp4"), cv2.VideoWriter_fourcc(*"avc1"), 10, (64, 48))
                _H264.append(bool(w.isOpened()))
                w.release()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return _H264[0]


_FFMPEG_H264: list[str | None] = []


def ffmpeg_h264() -> str | None:
    """The ``ffmpeg`` executable where it has libx264 (Debian's does), else None."""
    if not _FFMPEG_H264:
        exe = shutil.which("ffmpeg")
        found = None
        if exe:
            try:
                out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20)
                found = exe if "libx264" in out.stdout else None
            except (OSError, subprocess.SubprocessError):
                found = None
        _FFMPEG_H264.append(found)
    return _FFMPEG_H264[0]


class VideoSink(Sink):
    """Writes an mp4 with OpenCV: H.264 (``avc1``) where the encoder exists, else MPEG-4 Part 2.

    The pip OpenCV wheels cannot encode H.264; where an ``ffmpeg`` with libx264 is installed the
    finished MPEG-4 file is re-encoded to H.264 (``yuv420p``, index first), which browsers play;
    ``EDGEFUSE_H264=0`` turns that off.

    Frames go to a hidden ``.<name>.partial<suffix>`` file that ``close`` checks (the written
    file must hold every frame: a full disk makes OpenCV's writer fail silently) and renames
    over the target; a failed check deletes the partial file and raises, so a final name is
    always a complete, playable file. The frame rate is ``fps`` if given, else the source's
    (``fps_fn``); a sidecar ``<name>.frames.csv`` keeps every frame's capture times, so
    the timing of a variable-rate camera survives in the recording.
    """

    name = "video"

    def __init__(self, path: Path, fps: float | None = None, fps_fn: Callable[[], float | None] | None = None) -> None:
        if fps is not None and fps <= 0:
            raise ConfigError(f"output fps {fps} must be > 0")
        self.path, self.fps, self._fps_fn = path, fps, fps_fn
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        self.sidecar = path.with_name(path.name + ".frames.csv")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._rows = io.StringIO()
        self._csv = csv.writer(self._rows)
        self.fourcc = ""
        self.frames = 0

    def open(self) -> None:
        parent = self.path.parent
        if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise StreamError(f"cannot write video {self.path}: the folder {parent} is not writable "
                              "(read-only or permission denied)")

    def write(self, item: Fused) -> None:
        h, w = item.fused.shape[:2]
        if self._writer is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StreamError(f"cannot write video {self.path}: {e.strerror or e}") from e
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise StreamError(f"cannot write video {self.path}: the folder is not writable")
            if self.fps is None:
                self.fps = (self._fps_fn() if self._fps_fn else None) or 30.0
            suffix = self.path.suffix.lower()
            candidates = [_FOURCC.get(suffix, "mp4v")]
            if suffix in (".mp4", ".m4v", ".mov") and has_h264():
                candidates.insert(0, "avc1")
            for fourcc in candidates:
                writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*fourcc), self.fps, (w, h))
                if writer.isOpened():
                    self._writer, self.fourcc = writer, fourcc
                    break
                writer.release()
            if self._writer is None:
                self.partial.unlink(missing_ok=True)
                raise StreamError(f"cannot write video {self.path}: OpenCV has no encoder for it here; "
                                  "write an image folder instead (--out DIR/)")
            self._csv.writerow(CSV_HEADER)
            self._size = (w, h)
        if (w, h) != self._size:
            raise StreamError(f"frame size changed from {self._size} to {(w, h)} while writing {self.path}")
        self._writer.write(cv2.cvtColor(item.fused, cv2.COLOR_RGB2BGR))
        self._csv.writerow(_csv_row(item, time.monotonic()))
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()  # writes the mp4 index (moov atom): without it the file is unplayable
        self._writer = None
        cap = cv2.VideoCapture(str(self.partial))
        got = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        if got != self.frames:
            self.partial.unlink(missing_ok=True)
            raise StreamError(f"writing {self.path} failed: the file holds {got} of {self.frames} frames (disk full?); "
                              "removed the partial file")
        try:
            write_bytes_atomic(self.sidecar, self._rows.getvalue().encode())
        except (OSError, EdgefuseError) as e:
            self.partial.unlink(missing_ok=True)
            raise StreamError(f"writing {self.sidecar} failed: {getattr(e, 'strerror', None) or e} (disk full?); "
                              "removed the partial video") from e
        self._to_h264()
        os.replace(self.partial, self.path)
        logger.info("wrote %s (%d frames, %.3g fps, %s) and %s", self.path, self.frames, self.fps, self.fourcc,
                    self.sidecar.name)

    def _to_h264(self) -> None:
        """Re-encode the checked partial file to H.264 with ffmpeg where possible (else keep it as it is)."""
        exe = ffmpeg_h264()
        if self.fourcc == "avc1" or exe is None or os.environ.get("EDGEFUSE_H264", "1") == "0" or \
                self.path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
            return
        tmp = self.partial.with_name(self.partial.stem + ".h264" + self.partial.suffix)
        try:
            subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", "-i", str(self.partial), "-c:v", "libx264",
                            "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                            str(tmp)], check=True, capture_output=True, timeout=max(60.0, self.frames / 10))
            cap = cv2.VideoCapture(str(tmp))
            got = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
            cap.release()
            if got != self.frames:
                raise RuntimeError(f"{got} of {self.frames} frames")
            os.replace(tmp, self.partial)
            self.fourcc = "h264 (ffmpeg)"
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            tmp.unlink(missing_ok=True)
            logger.warning("%s: H.264 re-encoding failed (%s); keeping MPEG-4 Part 2", self.path.name, e)

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
        self._rows: list[list[object]] = []

    def write(self, item: Fused) -> None:
        try:
            write_image(self.folder / f"{item.seq:06d}{self.ext}", item.fused)
        except OSError as e:
            raise StreamError(f"cannot write {self.folder}/{item.seq:06d}{self.ext}: {e.strerror or e}") from e
        self._rows.append(_csv_row(item, time.monotonic()))
        self.frames += 1

    def close(self) -> None:
        if self._rows:  # frames.csv: capture times of every written frame
            buf = io.StringIO()
            csv.writer(buf).writerows([CSV_HEADER, *self._rows])
            self._rows = []
            try:
                write_bytes_atomic(self.folder / "frames.csv", buf.getvalue().encode())
            except (OSError, EdgefuseError) as e:
                raise StreamError(f"cannot write {self.folder}/frames.csv: {getattr(e, 'strerror', None) or e}") from e

    def describe(self) -> str:
        return f"{self.folder}/"


class WindowSink(Sink):
    """Shows frames in an OpenCV window where a display and HighGUI exist."""

    name = "window"
    live_output = True

    def __init__(self, title: str = "edgefuse stream") -> None:
        self.title = title
        self._ok = False

    def open(self) -> None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise StreamError("display:// needs a display (DISPLAY is not set); use --out http://127.0.0.1:8080 "
                              "to watch in a browser")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error as e:  # opencv-python-headless has no HighGUI
            raise StreamError("this OpenCV has no window support (opencv-python-headless); use the web viewer "
                              "(--out http://127.0.0.1:8080) or install opencv-python") from e
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


def _path(spec: str) -> Path:
    return Path(spec.removeprefix("file://")).expanduser()


register_sink(SinkKind("video", lambda spec, fps, fps_fn: VideoSink(_path(spec), fps, fps_fn), "a video file",
                       "clip.mp4", suffixes=VIDEO_SUFFIXES))
register_sink(SinkKind("folder", lambda spec, fps, fps_fn: FolderSink(_path(spec)), "a folder of images",
                       "frames/", folder=True))
register_sink(SinkKind("display", lambda spec, fps, fps_fn: WindowSink(), "a window", "display://",
                       schemes=("display",), aliases=("window",)))


def create_sink(spec: str, fps: float | None = None, fps_fn: FpsFn | None = None) -> Sink:
    """A sink for one ``--out`` value: ``x.mp4``, ``DIR/``, ``display://``, ``http://HOST:PORT`` or another
    registered kind (``SINKS``; ``sink_kind`` says which kind a value selects).

    Args:
        spec: the ``--out`` value.
        fps: frame rate of written video files (``None``: ``fps_fn``'s, else 30).
        fps_fn: returns the sources' frame rate once they are open.

    Raises:
        ConfigError: a value that names no sink.
    """
    return sink_kind(spec).create(spec, fps, fps_fn)


__all__ = ["IMAGE_EXTS", "SINKS", "VIDEO_SUFFIXES", "FolderSink", "Fused", "Sink", "SinkKind", "VideoSink",
           "WindowSink", "create_sink", "draw_overlay", "register_sink", "sink_kind"]
