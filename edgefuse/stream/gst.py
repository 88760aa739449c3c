"""GStreamer capture through an ``appsink``, stamped with the buffer's capture time.

A pipeline (``rtspsrc``, ``v4l2src``, ``nvarguscamerasrc``, a ``gst://`` description) ends in
``videoconvert ! video/x-raw,format=RGB ! appsink``. For a live pipeline a frame's time is its
buffer PTS (running time) plus the pipeline's base time, i.e. the moment on the pipeline clock
(the monotonic system clock, forced here for every pipeline) at which the source captured it,
and that is directly comparable with ``time.monotonic()`` and between the two cameras of a rig.
For a non-live pipeline (``filesrc ! decodebin``) the PTS is the stream time and end of stream
ends the source instead of reconnecting.

Learned from: the GStreamer docs on clocks and synchronisation (running time = clock time -
base time; buffer PTS in running time), the appsink/``GstApp`` reference (``new-sample``,
``pull-sample``, ``max-buffers``/``drop``), ``rtspsrc``'s ``latency``/``protocols``/``timeout``
/``tcp-timeout`` properties, and PyGObject's GStreamer tutorials (``Gst.parse_launch``,
``Buffer.map``). Pipelines are built and read here; no GLib main loop is needed, the bus is
popped from the reading thread.

Frames arrive on GStreamer's streaming thread; a live pipeline keeps the newest
``BUFFER`` frames and counts the ones it had to overwrite (``overwritten``); a file pipeline
blocks the streaming thread instead (back-pressure, nothing is lost).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from functools import lru_cache
from typing import Any

import numpy as np

from edgefuse.errors import StreamError, StreamTimeout
from edgefuse.secrets import redact
from edgefuse.stream.frames import Frame, Source

logger = logging.getLogger(__name__)

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0
BUFFER = 4  # frames a live pipeline keeps for the reader (newest wins)
SINK = "videoconvert ! video/x-raw,format=RGB ! appsink name=edgefuse_sink emit-signals=true sync=false " \
       "max-buffers=2 drop=false"


@lru_cache(maxsize=1)
def _import() -> tuple[Any, str]:
    # PyGObject/GStreamer are optional system packages: imported on first use, so every other
    # source (and the OpenCV fallback for cameras) works where they are missing
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstApp", "1.0")
        from gi.repository import Gst, GstApp  # noqa: F401 (GstApp gives appsink its signals)
    except (ImportError, ValueError) as e:
        return None, (f"PyGObject/GStreamer not importable ({e}); install the GStreamer packages and "
                      "PyGObject (README: Live streaming)")
    if not Gst.is_initialized():
        Gst.init(None)
    return Gst, ""


def gst_missing() -> str:
    """Why GStreamer capture is unavailable here ('' when it is available)."""
    return _import()[1]


def has_element(name: str) -> bool:
    """Whether the GStreamer element factory ``name`` is installed."""
    gst, _ = _import()
    return gst is not None and gst.ElementFactory.find(name) is not None


class GstSource(Source):
    """Frames from a GStreamer pipeline description, stamped with their capture time.

    Args:
        uri: the URI as given (redacted for display; the pipeline carries the real URL).
        description: the pipeline without its sink; ``SINK`` is appended.
        live: whether a camera (reconnect on errors and end of stream); ``None`` asks the
            pipeline (a live pipeline answers NO_PREROLL when it is paused), and then end of
            stream ends the source (a ``gst://`` pipeline that sends EOS has finished).
        max_reconnects: consecutive failed reopen attempts before giving up (-1 = forever).
        pts_delay_s: how much later than the capture the PTS of a live pipeline is (rtspsrc's
            jitter buffer puts its ``latency`` on the PTS: the RTSP test measured PTS = true
            capture + latency + ~6 ms of first-packet delay); subtracted.
    """

    kind = "gstreamer"

    def __init__(self, uri: str, description: str, stall_timeout: float = 5.0, live: bool | None = None,
                 max_reconnects: int = 10, pts_delay_s: float = 0.0) -> None:
        super().__init__(uri, stall_timeout)
        gst, why = _import()
        if gst is None:
            raise StreamError(f"{self.uri}: {why}")
        self._gst = gst
        self.description = description if "appsink" in description else f"{description} ! {SINK}"
        self.live_hint = live
        self.eos_ends = live is None
        self.live = self.paced = bool(live)
        self.max_reconnects = max_reconnects
        self.pts_delay = pts_delay_s
        self.fps: float | None = None  # the nominal rate from the caps (recordings use it)
        self._pipeline: Any = None
        self._frames: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._index = 0
        self._attempt = 0
        self._retry_at: float | None = None
        self._eos = False
        self._base = 0
        self._clock_offset = 0.0

    # pipeline ------------------------------------------------------------------------------
    def _build(self) -> None:
        gst = self._gst
        try:
            pipeline = gst.parse_launch(self.description)
        except Exception as e:  # noqa: BLE001 (GLib.Error: a bad description or a missing element)
            raise StreamError(f"{self.uri}: cannot build the GStreamer pipeline: {redact(str(e))}") from e
        sink = pipeline.get_by_name("edgefuse_sink")
        if sink is None:  # a gst:// description with its own appsink
            it = pipeline.iterate_sinks()
            while sink is None:
                ok, el = it.next()
                if ok != gst.IteratorResult.OK:
                    break
                if el.get_factory() is not None and el.get_factory().get_name() == "appsink":
                    sink = el
            if sink is None:
                raise StreamError(f"{self.uri}: the pipeline has no appsink")
            sink.set_property("emit-signals", True)
        clock = gst.SystemClock.obtain()
        pipeline.use_clock(clock)  # the monotonic system clock: comparable with time.monotonic()
        self._clock_offset = time.monotonic() - clock.get_time() / 1e9
        sink.connect("new-sample", self._on_sample)
        self._pipeline = pipeline
        self._eos = False

    def _start(self) -> None:
        """Build and start the pipeline; wait (at most ``stall_timeout``) for its first frame."""
        gst = self._gst
        self._build()
        p = self._pipeline
        ret = p.set_state(gst.State.PAUSED)
        if ret == gst.StateChangeReturn.FAILURE:
            err = self._bus_error() or "the pipeline refused to start"
            self._teardown()
            raise StreamError(f"{self.uri}: cannot open: {err}")
        if self.live_hint is None:
            self.live = self.paced = ret == gst.StateChangeReturn.NO_PREROLL
        p.set_state(gst.State.PLAYING)
        deadline = time.monotonic() + self.stall_timeout
        while True:
            with self._cond:
                if self._frames:
                    break
                self._cond.wait(0.05)
                if self._frames:
                    break
            err = self._bus_error()
            if err is not None:
                self._teardown()
                raise StreamError(f"{self.uri}: cannot open: {err}")
            if self._eos:
                self._teardown()
                raise StreamError(f"{self.uri}: the pipeline ended before its first frame")
            if self.cancel is not None and self.cancel.is_set():
                self._teardown()
                raise StreamError(f"{self.uri}: opening was cancelled")
            if time.monotonic() > deadline:
                self._teardown()
                raise StreamTimeout(f"{self.uri}: no frame within {self.stall_timeout:g} s of opening "
                                    "(unreachable camera? raise --stall-timeout)")
        self._base = p.get_base_time()
        self._attempt = 0

    def _bus_error(self) -> str | None:
        """Pop bus messages; return an error text (and note end of stream)."""
        gst = self._gst
        if self._pipeline is None:
            return None
        bus = self._pipeline.get_bus()
        while True:
            msg = bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.EOS)
            if msg is None:
                return None
            if msg.type == gst.MessageType.EOS:
                self._eos = True
                continue
            err, _debug = msg.parse_error()
            return redact(f"{msg.src.get_name() if msg.src else 'pipeline'}: {err.message}")

    def _teardown(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._pipeline is not None:
            self._pipeline.set_state(self._gst.State.NULL)  # joins the streaming threads
            self._pipeline = None
        self._stopping.clear()

    def _on_sample(self, sink: Any) -> Any:
        gst = self._gst
        sample = sink.emit("pull-sample")
        if sample is None:
            return gst.FlowReturn.FLUSHING
        arrival = time.monotonic()
        buf = sample.get_buffer()
        s = sample.get_caps().get_structure(0)
        w, h, fmt = s.get_value("width"), s.get_value("height"), s.get_value("format")
        if self.fps is None:
            ok_rate, num, den = s.get_fraction("framerate")
            self.fps = num / den if ok_rate and num > 0 and den > 0 else 0.0
        ch = 1 if fmt in ("GRAY8",) else 3
        ok, info = buf.map(gst.MapFlags.READ)
        if not ok:
            return gst.FlowReturn.OK
        try:
            data = np.frombuffer(info.data, np.uint8)
            stride = data.size // h
            img = data[: stride * h].reshape(h, stride)[:, : w * ch].reshape(h, w, ch) if ch == 3 else \
                data[: stride * h].reshape(h, stride)[:, :w]
            img = img.copy()
        finally:
            buf.unmap(info)
        if fmt == "BGR":
            img = img[:, :, ::-1].copy()
        pts = buf.pts
        known = pts != gst.CLOCK_TIME_NONE
        if self.live:
            capture = (self._pipeline_base() + pts) / 1e9 + self._clock_offset - self.pts_delay if known else arrival
            capture = min(capture, arrival)  # never later than it reached us
            ts = capture
        else:
            capture = None
            ts = pts / 1e9 if known else self._index / 30.0
        frame = Frame(img, ts, -1, self.uri, arrival=arrival, capture=capture)
        with self._cond:
            if self.live:
                if len(self._frames) >= BUFFER:
                    self._frames.popleft()
                    self.overwritten += 1
            else:
                while len(self._frames) >= BUFFER and not self._stopping.is_set():
                    self._cond.wait(0.1)  # back-pressure: a file waits for the reader
                if self._stopping.is_set():
                    return gst.FlowReturn.FLUSHING
            self._frames.append(frame)
            self._cond.notify_all()
        return gst.FlowReturn.OK

    def _pipeline_base(self) -> int:
        p = self._pipeline
        return p.get_base_time() if p is not None else self._base

    # Source contract -------------------------------------------------------------------------
    def _open(self) -> None:
        self._start()

    def _close(self) -> None:
        self._teardown()
        with self._cond:
            self._frames.clear()

    def _read(self, timeout: float) -> Frame | None:
        if self._pipeline is None:  # reconnecting: one loop, in the reading thread
            now = time.monotonic()
            if self._retry_at is not None and now < self._retry_at:
                time.sleep(min(timeout, self._retry_at - now))
                return None
            try:
                self.state = "reconnecting"
                self._start()
                self.state = "streaming"
                logger.warning("%s: reconnected", self.uri)
            except StreamError as e:
                self._reconnect(str(e))
                return None
        with self._cond:
            if not self._frames:
                self._cond.wait(timeout)
            frame = self._frames.popleft() if self._frames else None
            if frame is not None:
                self._cond.notify_all()
        if frame is not None:
            self._attempt = 0
            frame = Frame(frame.image, frame.ts, self._index, self.uri, frame.arrival, frame.capture)
            self._index += 1
            return frame
        err = self._bus_error()
        if err is not None:
            if not self.live:
                raise StreamError(f"{self.uri}: {err}")
            self._reconnect(err)
        elif self._eos:
            if not self.live or self.eos_ends:
                self._streaming = False  # end of file ends a file pipeline
                self.state = "ended"
                return None
            self._reconnect("the stream ended (the camera closed it?)")
        return None

    def _on_stall(self, waited: float) -> None:
        if not self.live:
            raise StreamTimeout(f"{self.uri} delivered no frame for {waited:.1f} s")
        self._reconnect(f"no frame for {waited:.1f} s")

    def _reconnect(self, why: str) -> None:
        self._teardown()
        with self._cond:
            self._frames.clear()
        if 0 <= self.max_reconnects <= self._attempt:
            self.state = "failed"
            raise StreamTimeout(f"{self.uri}: {why}; gave up after {self._attempt} reconnect attempts "
                                "(allow more with the URI option reconnect=N, -1 = forever)")
        delay = min(BACKOFF_START_S * 2 ** self._attempt, BACKOFF_MAX_S)
        self._attempt += 1
        self.reconnects += 1
        self.state = "reconnecting"
        logger.warning("%s: %s; reconnecting in %.1f s (attempt %d)", self.uri, why, delay, self._attempt)
        self._retry_at = time.monotonic() + delay
        self._last_frame = self._retry_at + self.stall_timeout  # the stall clock restarts after the try


__all__ = ["GstSource", "gst_missing", "has_element"]
