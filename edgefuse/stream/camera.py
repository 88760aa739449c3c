"""Live camera sources: ``v4l2://``, ``csi://``, ``rtsp://`` and ``gst://``, with reconnect back-off.

A reader thread keeps only the newest frames (jetson-utils' ring buffer keeps the latest
frame too), so a slow consumer never sees stale video. A camera that disconnects or stalls
is reopened with exponential back-off; after ``max_reconnects`` consecutive failed tries
(a delivered frame resets the count) the source raises ``StreamTimeout``. Where PyGObject and
GStreamer are installed every scheme reads through ``gst.GstSource`` (capture timestamps from
the buffer PTS on the pipeline clock); the OpenCV ``CaptureSource`` is the fallback (arrival
times on ``time.monotonic()``), chosen with a warning or by ``capture=opencv``. Either way the
times are on the clock both cameras of a rig share; a constant sensor/pipeline latency
difference is what the rig's ``offset_ms`` corrects.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import cv2

from edgefuse.errors import ConfigError, StreamError, StreamTimeout
from edgefuse.secrets import redact
from edgefuse.stream.frames import Frame, Source, warn_once
from edgefuse.stream.gst import GstSource, gst_missing, has_element
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
    """A ``cv2.VideoCapture`` (device, URL or GStreamer pipeline) read in one thread per source.

    The fallback where GStreamer capture is unavailable (or ``capture=opencv`` is asked for):
    frames are stamped on arrival, not at capture. One reader thread owns the capture for
    the source's whole life, including its reconnect loop (open, read until it fails,
    release, back off, reopen), so reconnects never pile up threads; ``close`` stops and
    joins it, so no thread is inside ``cap.read()`` when the interpreter exits (that
    ended runs with 'terminate called without an active exception', exit 134). Opening and
    reading honour ``stall_timeout`` through OpenCV's ``CAP_PROP_OPEN_TIMEOUT_MSEC`` /
    ``CAP_PROP_READ_TIMEOUT_MSEC`` (FFmpeg backend).
    """

    live = True
    paced = True
    kind = "opencv"

    def __init__(self, uri: str, target: str | int, api: int, props: dict[int, float] | None = None,
                 stall_timeout: float = 5.0, max_reconnects: int = 10) -> None:
        super().__init__(uri, stall_timeout)
        self.target, self.api, self.props = target, api, props or {}
        self.max_reconnects = max_reconnects
        self._frames: queue.Queue[object] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._index = 0

    def _capture(self) -> cv2.VideoCapture:
        ms = int(self.stall_timeout * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms] \
            if self.api == cv2.CAP_FFMPEG else []
        cap = cv2.VideoCapture(self.target, self.api, params)
        for prop, value in self.props.items():
            cap.set(prop, value)
        return cap

    def _open(self) -> None:
        cap = self._capture()
        if not cap.isOpened():
            cap.release()
            raise StreamError(f"cannot open {self.uri}: OpenCV could not start the capture within "
                              f"{self.stall_timeout:g} s (check the device/URL, permissions, and that no other "
                              "process holds the camera)")
        self._stop.clear()
        self._thread = threading.Thread(target=self._reader, args=(cap,), daemon=True, name=f"capture-{self.uri}")
        self._thread.start()

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.stall_timeout + 2.0)  # a read returns within the read timeout
            if self._thread.is_alive():
                logger.warning("%s: the capture thread did not stop in time", self.uri)
            self._thread = None

    def _reader(self, cap: cv2.VideoCapture | None) -> None:
        attempt = 0
        while not self._stop.is_set():
            if cap is None:
                cap = self._capture()
            try:
                got = False
                while not self._stop.is_set() and cap.isOpened():
                    ok, bgr = cap.read()
                    if not ok or bgr is None:
                        break
                    if not got:
                        got, attempt = True, 0
                        self.state = "streaming"
                    self._put((time.monotonic(), bgr))
            finally:
                cap.release()
                cap = None
            if self._stop.is_set():
                return
            if 0 <= self.max_reconnects <= attempt:
                self.state = "failed"
                self._error = StreamTimeout(f"{self.uri}: the capture stopped delivering; gave up after {attempt} "
                                            "reconnect attempts (allow more with the URI option reconnect=N, "
                                            "-1 = forever)")
                return
            delay = min(BACKOFF_START_S * 2 ** attempt, BACKOFF_MAX_S)
            attempt += 1
            self.reconnects += 1
            self.state = "reconnecting"
            logger.warning("%s: the capture stopped delivering; reconnecting in %.1f s (attempt %d)",
                           self.uri, delay, attempt)
            if self._stop.wait(delay):
                return

    def _put(self, item: object) -> None:
        while True:  # newest wins: drop the oldest buffered frame, and count it
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    self.overwritten += 1
                except queue.Empty:
                    pass

    def _read(self, timeout: float) -> Frame | None:
        if self._error is not None:
            raise self._error
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            return None
        ts, bgr = item  # type: ignore[misc]
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 else bgr
        frame = Frame(rgb, ts, self._index, self.uri)
        self._index += 1
        return frame

    def _on_stall(self, waited: float) -> None:
        if self._error is not None:
            raise self._error
        # the reader thread reconnects on its own; a stall longer than its whole back-off is fatal
        if self.max_reconnects >= 0 and waited > self.stall_timeout * (self.max_reconnects + 1) + 60:
            raise StreamTimeout(f"{self.uri}: no frame for {waited:.1f} s")


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


def _options(rest: str, keys: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Split edgefuse's own options (``reconnect``, ``latency``, ...) off a camera URL's query.

    The rest of the query stays in the URL (it belongs to the camera).
    """
    base, sep, query = rest.partition("?")
    if not sep:
        return rest, {}
    ours, theirs = {}, []
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k in keys:
            ours[k] = v
        else:
            theirs.append((k, v))
    return (base + ("?" + urlencode(theirs, safe="/:@") if theirs else "")), ours


def _capture_choice(query: dict[str, str], uri: str, element: str) -> str:
    """``gst`` where GStreamer (and ``element``) is available, else ``opencv``; ``capture=`` forces one."""
    want = query.get("capture", "auto")
    if want not in ("auto", "gst", "opencv"):
        raise ConfigError(f"{redact(uri)}: capture={want!r} must be auto, gst or opencv")
    if want == "opencv":
        return "opencv"
    missing = gst_missing() or ("" if has_element(element) else f"the GStreamer element {element} is not installed")
    if not missing:
        return "gst"
    if want == "gst":
        raise StreamError(f"{redact(uri)}: capture=gst: {missing}")
    warn_once(f"{redact(uri)}: GStreamer capture unavailable ({missing}); falling back to OpenCV: frames are "
              "stamped on arrival, not at capture")
    return "opencv"


def _caps(query: dict[str, str], uri: str) -> str:
    caps = []
    if "size" in query:
        w, h = _size(query["size"], uri)
        caps += [f"width={w}", f"height={h}"]
    if "fps" in query:
        caps.append(f"framerate={round(_number(query, 'fps', 30.0, uri))}/1")
    return ("video/x-raw," + ",".join(caps) + " ! ") if caps else ""


@SOURCES.register("v4l2")
def _v4l2_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"v4l2://{rest}"
    _check_keys(query, ("size", "fps", "reconnect", "capture"), uri)
    device = rest if rest.startswith("/") else "/" + rest
    if not Path(device).exists():
        raise StreamError(f"{uri}: {device} does not exist; list cameras with v4l2-ctl --list-devices")
    reconnect = _integer(query, "reconnect", 10, uri)
    if _capture_choice(query, uri, "v4l2src") == "gst":
        return GstSource(uri, f"v4l2src device={device} ! {_caps(query, uri)}decodebin", stall_timeout, True, reconnect)
    return CaptureSource(uri, device, cv2.CAP_V4L2, _props(query, uri), stall_timeout, reconnect)


@SOURCES.register("csi")
def _csi_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    uri = f"csi://{rest}"
    _check_keys(query, ("size", "fps", "flip", "reconnect", "capture"), uri)
    if not rest.strip("/").isdigit():
        raise ConfigError(f"{uri}: the sensor id must be a number, e.g. csi://0")
    w, h = _size(query.get("size", "1280x720"), uri)
    fps = round(_number(query, "fps", 30.0, uri))
    reconnect = _integer(query, "reconnect", 10, uri)
    # the nvarguscamerasrc -> nvvidconv -> appsink chain jetson-utils' gstCamera builds for CSI sensors
    chain = (f"nvarguscamerasrc sensor-id={int(rest.strip('/'))} ! "
             f"video/x-raw(memory:NVMM),width={w},height={h},framerate={fps}/1,format=NV12 ! "
             f"nvvidconv flip-method={_integer(query, 'flip', 0, uri)} ! video/x-raw,format=BGRx")
    if _capture_choice(query, uri, "nvarguscamerasrc") == "gst":
        return GstSource(uri, chain, stall_timeout, True, reconnect)
    _require_gstreamer(uri)
    pipeline = chain + " ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false"
    return CaptureSource(uri, pipeline, cv2.CAP_GSTREAMER, None, stall_timeout, reconnect)


RTSP_KEYS = ("reconnect", "latency", "transport", "capture", "buffer_mode")
BUFFER_MODES = ("none", "slave", "buffer", "auto", "synced")


@SOURCES.register("rtsp")
def _rtsp_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    """``rtsp://[user:pass@]host[:port]/path[?reconnect=N&latency=MS&transport=tcp|udp&capture=gst|opencv]``.

    ``buffer_mode`` is rtspsrc's jitter-buffer mode; the default ``synced`` maps the RTP
    timestamps (the sender's capture clock) onto the receiver's clock once, at the first
    packet, so frame times keep the sender's spacing; ``slave`` (GStreamer's default) keeps
    re-estimating the clock skew from arrival times, which moved one of two cameras by a frame
    period for a few seconds after the start in the RTSP test.
    """
    if not rest:
        raise ConfigError("rtsp:// needs a host, e.g. rtsp://user:pass@192.168.1.10:554/stream1")
    rest, opts = _options(rest, RTSP_KEYS)
    url = f"rtsp://{rest}"
    shown = redact(url)
    reconnect = _integer(opts, "reconnect", 10, shown)
    latency = _integer(opts, "latency", 50, shown)
    transport = opts.get("transport", "tcp")
    mode = opts.get("buffer_mode", "synced")
    if mode not in BUFFER_MODES:
        raise ConfigError(f"{shown}: buffer_mode={mode!r} must be one of {', '.join(BUFFER_MODES)}")
    if transport not in ("tcp", "udp", "auto"):
        raise ConfigError(f"{shown}: transport={transport!r} must be tcp, udp or auto")
    if _capture_choice(opts, url, "rtspsrc") == "gst":
        protocols = {"tcp": "tcp", "udp": "udp", "auto": "tcp+udp+udp-mcast"}[transport]
        us = int(stall_timeout * 1e6)
        desc = (f'rtspsrc location="{url}" latency={latency} protocols={protocols} timeout={us} '
                f"tcp-timeout={us} buffer-mode={mode} ! decodebin")
        return GstSource(url, desc, stall_timeout, True, reconnect, pts_delay_s=latency / 1000.0)
    return CaptureSource(url, url, cv2.CAP_FFMPEG, None, stall_timeout, reconnect)


GST_KEYS = ("reconnect", "capture")


@SOURCES.register("gst")
def _gst_source(rest: str, query: dict[str, str], stall_timeout: float) -> Source:
    """``gst://PIPELINE[?reconnect=N&capture=gst|opencv]``; end of stream ends a file pipeline."""
    if not rest.strip():
        raise ConfigError("gst:// needs a pipeline, e.g. gst://videotestsrc is-live=true")
    opts: dict[str, str] = {}
    base, sep, tail = rest.rpartition("?")
    if sep and tail and all(k in GST_KEYS for k, _ in parse_qsl(tail, keep_blank_values=True)):
        rest, opts = base, dict(parse_qsl(tail))
    uri = f"gst://{rest}"
    reconnect = _integer(opts, "reconnect", 10, uri)
    if _capture_choice(opts, uri, "appsink") == "gst":
        return GstSource(uri, rest, stall_timeout, None, reconnect)
    _require_gstreamer(uri)
    pipeline = rest if "appsink" in rest else rest + " ! videoconvert ! video/x-raw,format=BGR ! appsink sync=false"
    return CaptureSource(uri, pipeline, cv2.CAP_GSTREAMER, None, stall_timeout, reconnect)


__all__ = ["CaptureSource", "opencv_has_gstreamer"]
