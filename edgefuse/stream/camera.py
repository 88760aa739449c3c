"""Live camera sources: ``v4l2://``, ``csi://``, ``rtsp://`` and ``gst://``, with reconnect back-off.

A reader thread keeps only the newest frames (jetson-utils' ring buffer keeps the latest
frame too), so a slow consumer never sees stale video. A camera that disconnects or stalls
is reopened with exponential back-off; after ``max_reconnects`` consecutive failed tries
(a delivered frame resets the count) the source raises ``StreamTimeout``. Timestamps are arrival times on ``time.monotonic()``, the same
clock for both cameras of a rig; a constant sensor/pipeline latency difference is what
the rig's ``offset_ms`` corrects.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from functools import lru_cache
from pathlib import Path

import cv2

from edgefuse.errors import ConfigError, StreamError, StreamTimeout
from edgefuse.stream.frames import Frame, Source
from edgefuse.stream.sources import SOURCES, _check_keys, _integer, _number, _size

logger = logging.getLogger(__name__)

_FAILED = object()  # put by the reader thread when the capture stops delivering
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0


@lru_cache(maxsize=1)
def opencv_has_gstreamer() -> bool:
    """Whether this OpenCV build can run GStreamer pipelines (JetPack's can; pip wheels cannot)."""
    for line in cv2.getBuildInformation().splitlines():
        if "GStreamer" in line:
            return "YES" in line
    return False


class CaptureSource(Source):
    """A ``cv2.VideoCapture`` (device, URL or GStreamer pipeline) read in its own thread."""

    live = True
    paced = True

    def __init__(self, uri: str, target: str | int, api: int, props: dict[int, float] | None = None,
                 stall_timeout: float = 5.0, max_reconnects: int = 10) -> None:
        super().__init__(uri, stall_timeout)
        self.target, self.api, self.props = target, api, props or {}
        self.max_reconnects = max_reconnects
        self.reconnects = 0
        self._attempt = 0
        self._frames: queue.Queue[object] = queue.Queue(maxsize=2)
        self._gen = 0  # a new reader generation abandons the old (possibly blocked) one
        self._stop = threading.Event()
        self._index = 0

    def _capture(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.target, self.api)
        for prop, value in self.props.items():
            cap.set(prop, value)
        return cap

    def _open(self) -> None:
        cap = self._capture()
        if not cap.isOpened():
            cap.release()
            raise StreamError(f"cannot open {self.uri}: OpenCV could not start the capture "
                              "(check the device/URL, permissions, and that no other process holds the camera)")
        self._stop.clear()
        self._start_reader(cap, 0.0)

    def _close(self) -> None:
        self._stop.set()
        self._gen += 1

    def _start_reader(self, cap: cv2.VideoCapture | None, delay: float) -> None:
        self._gen += 1
        threading.Thread(target=self._reader, args=(cap, delay, self._gen), daemon=True,
                         name=f"capture-{self.uri}").start()

    def _reader(self, cap: cv2.VideoCapture | None, delay: float, gen: int) -> None:
        if delay and self._stop.wait(delay):
            return
        if cap is None:
            cap = self._capture()
        try:
            while not self._stop.is_set() and gen == self._gen:
                ok, bgr = cap.read() if cap.isOpened() else (False, None)
                if not ok or bgr is None:
                    if gen == self._gen:
                        self._put(_FAILED)
                    return
                self._put((time.monotonic(), bgr))
        finally:
            cap.release()

    def _put(self, item: object) -> None:
        while True:  # newest wins: drop the oldest buffered frame
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                except queue.Empty:
                    pass

    def _read(self, timeout: float) -> Frame | None:
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _FAILED:
            self._reconnect("the capture stopped delivering (disconnected?)")
            return None
        ts, bgr = item  # type: ignore[misc]
        self._attempt = 0
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 else bgr
        frame = Frame(rgb, ts, self._index, self.uri)
        self._index += 1
        return frame

    def _on_stall(self, waited: float) -> None:
        self._reconnect(f"no frame for {waited:.1f} s")

    def _reconnect(self, why: str) -> None:
        if 0 <= self.max_reconnects <= self._attempt:
            raise StreamTimeout(f"{self.uri}: {why}; gave up after {self._attempt} reconnect attempts "
                                "(check the camera, or allow more with --reconnect N, -1 = forever)")
        delay = min(BACKOFF_START_S * 2 ** self._attempt, BACKOFF_MAX_S)
        self._attempt += 1
        self.reconnects += 1
        logger.warning("%s: %s; reconnecting in %.1f s (attempt %d)", self.uri, why, delay, self._attempt)
        self._start_reader(None, delay)
        self._last_frame = time.monotonic() + delay  # the stall clock restarts after the back-off


def _props(query: dict[str, str], uri: str) -> dict[int, float]:
    props: dict[int, float] = {}
    if "size" in query:
        w, h = _size(query["size"], uri)
        props[cv2.CAP_PROP_FRAME_WIDTH], props[cv2.CAP_PROP_FRAME_HEIGHT] = w, h
    if "fps" in query:
        props[cv2.CAP_PROP_FPS] = _number(query, "fps", 30.0, uri)
    return props


def _require_gstreamer(uri: str) -> None:
    if not opencv_has_gstreamer():
        raise StreamError(f"{uri} needs an OpenCV built with GStreamer (JetPack's python3-opencv has it; "
                          "the opencv-python wheels do not); use v4l2:// or file:// here")


@SOURCES.register("v4l2")
def _v4l2_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"v4l2://{rest}"
    _check_keys(query, ("size", "fps", "reconnect"), uri)
    device = rest if rest.startswith("/") else "/" + rest
    if not Path(device).exists():
        raise StreamError(f"{uri}: {device} does not exist; list cameras with v4l2-ctl --list-devices")
    return CaptureSource(uri, device, cv2.CAP_V4L2, _props(query, uri), stall_timeout,
                         _integer(query, "reconnect", 10, uri))


@SOURCES.register("csi")
def _csi_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"csi://{rest}"
    _check_keys(query, ("size", "fps", "flip", "reconnect"), uri)
    if not rest.strip("/").isdigit():
        raise ConfigError(f"{uri}: the sensor id must be a number, e.g. csi://0")
    _require_gstreamer(uri)
    w, h = _size(query.get("size", "1280x720"), uri)
    fps = round(_number(query, "fps", 30.0, uri))
    # the nvarguscamerasrc -> nvvidconv -> appsink chain jetson-utils' gstCamera builds for CSI sensors
    pipeline = (f"nvarguscamerasrc sensor-id={int(rest.strip('/'))} ! "
                f"video/x-raw(memory:NVMM),width={w},height={h},framerate={fps}/1,format=NV12 ! "
                f"nvvidconv flip-method={_integer(query, 'flip', 0, uri)} ! video/x-raw,format=BGRx ! "
                "videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")
    return CaptureSource(uri, pipeline, cv2.CAP_GSTREAMER, None, stall_timeout,
                         _integer(query, "reconnect", 10, uri))


@SOURCES.register("rtsp")
def _rtsp_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"rtsp://{rest}"
    if not rest:
        raise ConfigError("rtsp:// needs a host, e.g. rtsp://user:pass@192.168.1.10:554/stream1")
    return CaptureSource(uri, uri, cv2.CAP_FFMPEG, None, stall_timeout)


@SOURCES.register("gst")
def _gst_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"gst://{rest}"
    if not rest.strip():
        raise ConfigError("gst:// needs a pipeline, e.g. gst://videotestsrc ! videoconvert ! appsink")
    _require_gstreamer(uri)
    pipeline = rest if "appsink" in rest else rest + " ! videoconvert ! video/x-raw,format=BGR ! appsink sync=false"
    return CaptureSource(uri, pipeline, cv2.CAP_GSTREAMER, None, stall_timeout)


__all__ = ["CaptureSource", "opencv_has_gstreamer"]
