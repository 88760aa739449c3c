"""Frames, the ``Source`` contract every camera/file/synthetic input follows, and re-timing.

The read contract follows jetson-utils' ``videoSource.Capture(timeout)``: ``read(timeout)``
returns a frame, or ``None`` when none came in time; end of stream is signalled by
``is_streaming`` turning false, and a source that delivers nothing for ``stall_timeout``
seconds raises ``StreamTimeout`` (live sources first try to reconnect).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from edgefuse.errors import ConfigError, StreamTimeout
from edgefuse.secrets import redact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One captured image.

    Attributes:
        image: HxWx3 uint8 RGB, or HxW uint8 grey for single-channel sources.
        ts: capture timestamp in seconds, on the source's own clock (container PTS for
            files, generated for synthetic sources, arrival time for live cameras).
        index: the frame's position in its source (gaps mean dropped frames).
        source: the URI it came from.
        arrival: ``time.monotonic()`` when edgefuse received it.
        capture: the capture instant on ``time.monotonic()``'s clock where the source knows it
            (GStreamer buffer PTS on the pipeline clock, a paced file's scheduled time); ``None``
            means only the arrival time is known. Latency is measured from ``t_capture``.
    """

    image: np.ndarray
    ts: float
    index: int
    source: str
    arrival: float = field(default_factory=time.monotonic)
    capture: float | None = None

    @property
    def t_capture(self) -> float:
        """The capture time on the monotonic clock (the arrival time where the source cannot tell)."""
        return self.capture if self.capture is not None else self.arrival


@lru_cache(maxsize=None)
def warn_once(message: str) -> None:
    """Log a warning that could repeat per frame only once (Polygraphy's ``LogMode.ONCE`` idea)."""
    logger.warning(message)


class Source(ABC):
    """A stream of ``Frame`` objects from one URI.

    Subclasses implement ``_open``, ``_read`` and ``_close``; ``_read`` returns a frame,
    or ``None`` after setting ``self._streaming = False`` at the end of the stream, or
    ``None`` when nothing arrived within ``timeout`` (live sources).
    """

    live = False  # live sources reconnect on stalls; files and sequences end
    paced = False  # frames come at capture rate (live cameras, realtime=1), not as fast as read
    kind = "file"  # how frames are read: file, synthetic, gstreamer, opencv (reported in the stats)

    def __init__(self, uri: str, stall_timeout: float = 5.0) -> None:
        self.uri = redact(uri)  # for messages, logs and stats; a camera keeps its real URL elsewhere
        self.cancel: threading.Event | None = None  # set by the runner on a stop: ends a blocking open
        self.reconnects = 0
        self.overwritten = 0  # frames replaced in a newest-wins buffer before anyone read them
        self.state = "idle"
        self.stall_timeout = stall_timeout
        self._streaming = False
        self._opened = False
        self._last_frame = 0.0
        self.frames_read = 0

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> Source:
        if not self._opened:
            self.state = "opening"
            self._open()
            self._opened = True
            self._streaming = True
            self.state = "streaming"
            self._last_frame = time.monotonic()
        return self

    def close(self) -> None:
        if self._opened:
            self._close()
            self._opened = False
            self._streaming = False
            self.state = "closed"

    def health(self) -> dict[str, object]:
        """What the stats and the viewer's health panel show about this source."""
        return {"uri": self.uri, "kind": self.kind, "state": "ended" if self._opened and not self._streaming else self.state, "live": self.live, "paced": self.paced, "frames": self.frames_read,
                "reconnects": self.reconnects, "overwritten": self.overwritten}

    def __enter__(self) -> Source:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_streaming(self) -> bool:
        """False once the stream has ended (end of file, last image) or the source is closed."""
        return self._streaming

    # reading ---------------------------------------------------------------------------
    def read(self, timeout: float = 1.0) -> Frame | None:
        """The next frame, or ``None`` on timeout or at the end of the stream.

        Raises:
            StreamTimeout: no frame for ``stall_timeout`` seconds (and, for live sources,
                reconnecting did not help).
        """
        if not self._opened:
            self.open()
        if not self._streaming:
            return None
        frame = self._read(timeout)
        now = time.monotonic()
        if frame is not None:
            self._last_frame = now
            self.frames_read += 1
            return frame
        if self._streaming and now - self._last_frame > self.stall_timeout:
            self._on_stall(now - self._last_frame)
        return None

    def _on_stall(self, waited: float) -> None:
        raise StreamTimeout(
            f"{self.uri} delivered no frame for {waited:.1f} s (after {self.frames_read} frames); "
            "check the camera/cable/stream, or raise --stall-timeout"
        )

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _read(self, timeout: float) -> Frame | None: ...

    def _close(self) -> None:
        """Release what ``_open`` took (default: nothing)."""


class RetimedSource(Source):
    """Wraps a source and shifts, jitters and drops its frames, for tests and benchmarks.

    Timestamps become ``ts + offset + U(-jitter, +jitter)``; each frame is dropped with
    probability ``drop``. The frame ``index`` is kept, so a test knows the true pairing.
    Jitter below half the frame period keeps timestamps increasing.
    """

    def __init__(self, inner: Source, offset_ms: float = 0.0, jitter_ms: float = 0.0,
                 drop: float = 0.0, seed: int = 0) -> None:
        super().__init__(inner.uri, inner.stall_timeout)
        if not 0.0 <= drop < 1.0:
            raise ConfigError(f"drop={drop} must be a probability in [0, 1)")
        if jitter_ms < 0:
            raise ConfigError(f"jitter_ms={jitter_ms} must be >= 0")
        self.inner = inner
        self.live, self.paced, self.kind = inner.live, inner.paced, inner.kind
        self.offset = offset_ms / 1000.0
        self.jitter = jitter_ms / 1000.0
        self.drop = drop
        self._rng = np.random.default_rng(seed)
        self.dropped: list[int] = []  # indices removed on purpose (tests read them)

    def _open(self) -> None:
        self.inner.open()

    def _close(self) -> None:
        self.inner.close()

    def _read(self, timeout: float) -> Frame | None:
        while True:
            frame = self.inner.read(timeout)
            if frame is None:
                self._streaming = self.inner.is_streaming
                return None
            # draw both numbers for every frame so a drop does not shift later jitter values
            u, d = self._rng.uniform(-1.0, 1.0), self._rng.uniform()
            if d < self.drop:
                self.dropped.append(frame.index)
                continue
            return replace(frame, ts=frame.ts + self.offset + u * self.jitter)

    def _on_stall(self, waited: float) -> None:
        pass  # the inner source does its own stall handling on every read

    def health(self) -> dict[str, object]:
        return {**self.inner.health(), "frames": self.frames_read, "dropped_on_purpose": len(self.dropped)}


__all__ = ["Frame", "RetimedSource", "Source", "warn_once"]
