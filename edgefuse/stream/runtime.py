"""The threaded stream pipeline: capture -> pairing -> registration -> inference -> post -> sinks.

Every stage is a thread and stages talk through bounded queues, so the pipeline runs at the
speed of its slowest stage (the model), not at the sum of the stages. Two policies:

* ``all`` (offline): queues block the producer, every matched pair is fused and written;
* ``latest`` (live): the queues in front of inference keep only the newest pair (GStreamer's
  ``queue leaky=downstream`` idea, jetson-utils' latest-frame capture), older pairs are
  counted as ``skipped_pairs``.

``Ctrl-C``/SIGTERM stop the capture, let queued work drain, close the sinks (the mp4 gets
its index) and write the stats; a second signal skips the queued work. The handlers are
installed before the sources open, so a signal during a slow camera open is not lost.

Latency is measured per frame from the capture time (``Frame.t_capture``: GStreamer PTS on
the pipeline clock, a paced file's scheduled time, else arrival) through the stages:
capture->pair, pair->inference start (queues, registration), inference, inference->sink
write, and, for the web viewer, capture->delivery to the browser.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgefuse.data.images import write_bytes_atomic
from edgefuse.errors import EdgefuseError, StreamError
from edgefuse.secrets import redact, redact_obj
from edgefuse.stream.config import StreamConfig
from edgefuse.stream.frames import Frame, Source
from edgefuse.stream.registration import Registrar, Rig, load_rig
from edgefuse.stream.sink_base import Fused, Sink
from edgefuse.stream.sinks import create_sink, draw_overlay
from edgefuse.stream.sources import open_source
from edgefuse.stream.sync import SIDES, FramePair, Pairer

logger = logging.getLogger(__name__)

_EOS = object()
_POLL_S = 0.1
LOG_EVERY_S = 5.0


class _Channel:
    """A bounded queue; ``leaky`` drops the oldest item instead of blocking the producer."""

    def __init__(self, size: int, leaky: bool, abort: threading.Event, wake: threading.Event | None = None) -> None:
        self._q: queue.Queue[object] = queue.Queue(maxsize=size)
        self.leaky, self._abort, self._wake = leaky, abort, wake

    def put(self, item: object, force: bool = False) -> int:
        """Queue ``item``; return how many items were dropped (older ones, or this one on abort).

        ``force`` items (end markers) are never dropped.
        """
        force = force or item is _EOS
        evicted = 0
        while True:
            try:
                if self.leaky:
                    self._q.put_nowait(item)
                else:
                    self._q.put(item, timeout=_POLL_S)
                if self._wake is not None:
                    self._wake.set()
                return evicted
            except queue.Full:
                if self.leaky:
                    try:
                        evicted += self._q.get_nowait() is not _EOS
                    except queue.Empty:
                        pass
                elif self._abort.is_set() and not force:
                    return evicted + 1  # aborting: nobody will process it

    def get(self, timeout: float | None = None) -> object:
        """The next item; with a timeout, ``_EMPTY`` when none came."""
        if timeout is None:
            return self._q.get()
        try:
            return self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
        except queue.Empty:
            return _EMPTY


_EMPTY = object()


class StreamRunner:
    """Runs one stream: two sources, a backend (anything with ``fuse_u8`` and ``name``), sinks.

    Sources, sinks and the rig are built from ``config`` unless given (tests pass their own),
    so bad URIs and files fail here, before a model loads; ``backend`` may be set after
    construction, before ``run``.
    """

    def __init__(self, config: StreamConfig, backend: Any, ir_source: Source | None = None,
                 vis_source: Source | None = None, sinks: list[Sink] | None = None, rig: Rig | None = None) -> None:
        self.config = config
        self.backend = backend
        self.rig = rig if rig is not None else (load_rig(config.rig) if config.rig else None)
        offset = config.offset_ms if config.offset_ms is not None else (self.rig.offset_ms if self.rig else 0.0)
        self.offset_ms = offset
        self.sources = {"ir": ir_source or open_source(config.ir, config.stall_timeout),
                        "vis": vis_source or open_source(config.vis, config.stall_timeout)}
        self.sinks = sinks if sinks is not None else [create_sink(o, config.out_fps, self.source_fps)
                                                      for o in config.outputs]
        live_out = any(getattr(s, "live_output", False) for s in self.sinks)
        for src in self.sources.values():  # a live output shows files at their own pace, not as fast as read
            inner = getattr(src, "inner", src)
            if live_out and not getattr(inner, "realtime_explicit", True) and hasattr(inner, "set_realtime"):
                inner.set_realtime(True)
                src.paced = True
        self.policy = config.policy
        if self.policy == "auto":
            self.policy = "latest" if any(s.paced for s in self.sources.values()) else "all"
        if self.policy == "latest" and not all(s.paced for s in self.sources.values()):
            logger.warning("stream: --policy latest on an unpaced source (%s) keeps only the newest pair while the "
                           "file is read as fast as it decodes, so most frames are skipped; add ?realtime=1 or use "
                           "--policy all", ", ".join(s.uri for s in self.sources.values() if not s.paced))
        for src in self.sources.values():
            src.cancel = self._cancel_event()
        self.pairer = Pairer(config.tolerance_ms, offset, max_queue=config.pair_queue, max_pairs=config.max_frames)
        self.registrar = Registrar(self.rig)
        self.error: BaseException | None = None
        self.stopped_by = "end of stream"
        self.stats: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop_capture, self._stopping, self._abort = threading.Event(), threading.Event(), threading.Event()
        self._done = threading.Event()
        self.started = False  # the pipeline threads ran (the sources and sinks opened)
        self.stats_written = False
        self._skipped = 0
        self._out = 0
        self._t_first_out: float | None = None
        self._t_last_out: float | None = None
        self._latency: deque[float] = deque(maxlen=20000)
        self._stages: deque[tuple[float, float, float, float]] = deque(maxlen=20000)
        self._infer_ms: deque[float] = deque(maxlen=20000)
        self._t_start = self._last_log = time.monotonic()
        self._detail: dict[str, Any] = {}

    def source_fps(self) -> float | None:
        """The sources' frame rate (the visible one's first): a file's, a camera's nominal, else measured."""
        for side in ("vis", "ir"):
            src = self.sources[side]
            src = getattr(src, "inner", src)
            fps = getattr(src, "fps", None)
            if fps:
                return float(fps)
        with self._lock:
            if self._out >= 2 and self._t_first_out is not None and self._t_last_out is not None:
                return self._fps()
        return None

    def _cancel_event(self) -> threading.Event:
        if not hasattr(self, "_cancel"):
            self._cancel = threading.Event()
        return self._cancel

    # control ---------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Stop capturing; queued pairs are still fused and written (call twice to skip them)."""
        if self._stopping.is_set():
            self._abort.set()
        elif self.stopped_by == "end of stream":
            self.stopped_by = reason
        self._stopping.set()
        self._stop_capture.set()
        self._cancel_event().set()

    def _fail(self, err: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = err
                self.stopped_by = "error"
        logger.debug("stream: stopping on %s: %s", type(err).__name__, redact(str(err)))  # run() raises it afterwards
        self._stop_capture.set()
        self._stopping.set()
        self._cancel_event().set()
        if not isinstance(err, StreamError):  # a broken stage: what is queued cannot be trusted
            self._abort.set()

    @contextmanager
    def _signals(self, install: bool) -> Iterator[None]:
        if not install or threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.getsignal(s) for s in sigs}

        def handler(signum: int, _frame: object) -> None:
            logger.warning("stream: %s received, finishing (again to skip queued frames)", signal.Signals(signum).name)
            self.stop(signal.Signals(signum).name)

        for s in sigs:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    # stages ----------------------------------------------------------------------------------
    def _capture(self, side: str, src: Source, out: _Channel) -> None:
        try:
            while not self._stop_capture.is_set():
                frame = src.read(timeout=0.2)
                if frame is not None:
                    out.put(frame)
                elif not src.is_streaming:
                    break
        except EdgefuseError as e:
            self._fail(e)
        except Exception as e:  # noqa: BLE001 (a decoder/driver failure must still end the stream)
            self._fail(StreamError(f"{src.uri}: reading failed ({type(e).__name__}: {e})"))
        finally:
            out.put(None, force=True)  # end marker of this side

    def _pair(self, inputs: dict[str, _Channel], out: _Channel, wake: threading.Event) -> None:
        # Frames enter the pairer merged in time order (one look-ahead frame per side), so a
        # source that decodes faster than the other cannot run ahead and overflow the pairer;
        # but a frame is pushed as soon as it is the earliest one known, without waiting for
        # the next frame of the side it came from (that wait cost one frame period per pair),
        # and a side may run ahead by up to half the pair queue while the other is silent.
        peek: dict[str, Frame | None] = dict.fromkeys(SIDES)
        ended: set[str] = set()
        ahead = max(1, self.pairer.max_queue // 2)
        try:
            while len(ended) < 2:
                wake.clear()
                for side in SIDES:
                    if side not in ended and peek[side] is None:
                        item = inputs[side].get(0)
                        if item is None:
                            ended.add(side)
                            self._emit(self.pairer.end(side), out)
                        elif item is not _EMPTY:
                            peek[side] = item  # type: ignore[assignment]
                ready = [s for s in SIDES if peek[s] is not None]
                if len(ready) == 1:
                    other = "vis" if ready[0] == "ir" else "ir"
                    if other not in ended and self.pairer.pending[ready[0]] >= ahead:
                        ready = []  # wait for the other side before running further ahead
                if not ready:
                    if len(ended) < 2:
                        wake.wait(_POLL_S)
                    continue
                side = min(ready, key=lambda s: self.pairer.aligned(s, peek[s]))  # type: ignore[arg-type]
                frame, peek[side] = peek[side], None
                if self._stopping.is_set():
                    self.pairer.reject(side)
                else:
                    self._emit(self.pairer.push(side, frame), out)  # type: ignore[arg-type]
                if self.pairer.exhausted and not self._stop_capture.is_set():
                    self._stop_capture.set()  # nothing more can pair
                    if self.pairer.full and self.stopped_by == "end of stream":
                        self.stopped_by = "max frames"
            self.pairer.discard()
        except Exception as e:  # noqa: BLE001 (recorded, re-raised by run())
            self._fail(e)
        finally:
            self._count_skipped(out.put(_EOS))  # a leaky queue may drop a pair for it

    def _emit(self, pairs: list[FramePair], out: _Channel) -> None:
        for p in pairs:
            self._count_skipped(out.put(p))

    def _count_skipped(self, n: int) -> None:
        if n:
            with self._lock:
                self._skipped += n

    def _stage(self, fn: Callable[[Any], Any], inq: _Channel, outq: _Channel | None) -> None:
        try:
            while True:
                item = inq.get()
                if item is _EOS:
                    break
                if self._abort.is_set():
                    self._count_skipped(1)
                    continue
                try:
                    result = fn(item)
                except Exception as e:  # noqa: BLE001 (recorded, re-raised by run())
                    self._fail(e)
                    self._count_skipped(1)
                    continue
                if outq is not None:
                    self._count_skipped(outq.put(result))
        finally:
            if outq is not None:
                self._count_skipped(outq.put(_EOS))

    def _prepare(self, pair: FramePair) -> tuple[FramePair, np.ndarray, np.ndarray]:
        vis = pair.vis.image
        if vis.ndim == 2:
            vis = np.repeat(vis[:, :, None], 3, axis=2)
        ir = pair.ir.image
        if ir.ndim == 3:  # cvtColor's fixed-point BT.601 (within 1 level of grey_u8_from_rgb), 6x faster
            ir = cv2.cvtColor(ir, cv2.COLOR_RGB2GRAY)
        return pair, vis, self.registrar.apply(ir, vis.shape[:2])

    def _infer(self, item: tuple[FramePair, np.ndarray, np.ndarray]) -> tuple[Any, ...]:
        pair, vis, ir = item
        t0 = time.monotonic()
        fused = self.backend.fuse_u8(vis, ir)
        t1 = time.monotonic()
        with self._lock:  # snapshot() reads the deque from other threads
            self._infer_ms.append((t1 - t0) * 1000.0)
        return pair, vis, ir, fused, t0, t1

    def _post(self, item: tuple[Any, ...]) -> Fused:
        pair, vis, ir, fused, t0, t1 = item
        if self.config.overlay:
            with self._lock:
                recent = list(itertools.islice(reversed(self._latency), 100))
                fps = self._fps()
            lat = float(np.median(recent)) if recent else 0.0
            fused = draw_overlay(fused, fps, lat, f"skew {pair.skew_ms:+.1f} ms")
        return Fused(pair.seq, fused, vis, ir, pair, t_infer0=t0, t_infer1=t1)

    def _write(self, item: Fused) -> None:
        for sink in self.sinks:
            sink.write(item)
        now = time.monotonic()
        cap = min(item.pair.ir.t_capture, item.pair.vis.t_capture)
        with self._lock:
            self._latency.append((now - cap) * 1000.0)
            self._stages.append(((item.pair.t_pair - cap) * 1e3, (item.t_infer0 - item.pair.t_pair) * 1e3,
                                 (item.t_infer1 - item.t_infer0) * 1e3, (now - item.t_infer1) * 1e3))
            self._out += 1
            self._t_first_out = self._t_first_out or now
            self._t_last_out = now
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            s = self.snapshot()
            logger.info("stream: %d pairs, %d out, %.1f fps, latency p50 %.0f ms, dropped ir/vis %d/%d",
                        s["pairs"], s["frames_out"], s["fps"], s["latency_ms"]["p50"], s["dropped_ir"],
                        s["dropped_vis"])

    # stats -----------------------------------------------------------------------------------
    def _fps(self) -> float:
        # steady-state rate between the first and the last output frame
        if self._out < 2 or self._t_first_out is None or self._t_last_out is None:
            return 0.0
        return (self._out - 1) / max(self._t_last_out - self._t_first_out, 1e-9)

    def snapshot(self) -> dict[str, Any]:
        """The stats so far (also served live by the web viewer)."""
        clients = [c for c in (getattr(s, "client_latency", lambda: None)() for s in self.sinks) if c is not None]
        with self._lock:
            lat = np.asarray(self._latency) if self._latency else np.zeros(1)
            inf = np.asarray(self._infer_ms) if self._infer_ms else np.zeros(1)
            stages = np.asarray(self._stages) if self._stages else np.zeros((1, 4))
            p = self.pairer.stats.to_dict()
            detail = self._detail
            pct = {name: {"p50": round(float(np.percentile(stages[:, i], 50)), 3),
                          "p99": round(float(np.percentile(stages[:, i], 99)), 3)}
                   for i, name in enumerate(("capture_to_pair", "pair_to_infer", "infer", "infer_to_sink"))}
            if clients:
                pct["capture_to_client"] = clients[0]
            health = {side: src.health() for side, src in self.sources.items()}
            return redact_obj({
                "pairs": p["pairs"], "dropped_ir": p["dropped_ir"], "dropped_vis": p["dropped_vis"],
                "skew_ms": p["skew_ms"], "fps": round(self._fps(), 3),
                "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 3),
                               "p99": round(float(np.percentile(lat, 99)), 3)},
                "backend": getattr(self.backend, "name", type(self.backend).__name__),
                "latency_stages_ms": pct,
                "frames_out": self._out, "skipped_pairs": self._skipped,
                "frames_ir": p["frames_ir"], "frames_vis": p["frames_vis"],
                "discarded_ir": p["discarded_ir"], "discarded_vis": p["discarded_vis"],
                "late_ir": p["late_ir"], "late_vis": p["late_vis"],
                "overwritten_ir": health["ir"]["overwritten"], "overwritten_vis": health["vis"]["overwritten"],
                "sources": health,
                "infer_ms": {"mean": round(float(inf.mean()), 3), "p50": round(float(np.percentile(inf, 50)), 3)},
                "policy": self.policy, "tolerance_ms": self.config.tolerance_ms, "offset_ms": self.offset_ms,
                "elapsed_s": round(time.monotonic() - self._t_start, 3), "running": not self._done.is_set(),
                "stopped_by": self.stopped_by, "error": str(self.error) if self.error else None,
                "ir": self.sources["ir"].uri, "vis": self.sources["vis"].uri,
                "outputs": [s.describe() for s in self.sinks],
                "backend_detail": {k: detail.get(k) for k in ("device", "precision", "artefact") if k in detail},
            })

    # run -------------------------------------------------------------------------------------
    def run(self, install_signals: bool = False) -> dict[str, Any]:
        """Run until the sources end, ``max_frames`` pairs, a signal or an error; return the stats.

        Raises:
            StreamError: a source could not be opened, or stalled/failed during the run, or the
                stats could not be written (the stats are still in ``self.stats``; the error is
                recorded in them).
        """
        opened: list[Any] = []
        with self._signals(install_signals):  # from the start: Ctrl-C during a slow open is honoured
            try:
                try:
                    for obj in (*self.sources.values(), *self.sinks):
                        if self._stopping.is_set():
                            break
                        obj.open()
                        opened.append(obj)
                except EdgefuseError as e:
                    if not self._stopping.is_set():  # an open cancelled by a signal is not an error
                        self._fail(e)
                if not self._stopping.is_set():
                    for sink in self.sinks:
                        sink.attach_stats(self.snapshot)
                    describe = getattr(self.backend, "describe", None)
                    self._detail = describe() if callable(describe) else {}
                    self._t_start = self._last_log = time.monotonic()
                    self.started = True
                    self._run_threads()
            finally:
                self._done.set()
                for obj in reversed(opened):
                    try:
                        obj.close()
                    except EdgefuseError as e:
                        self._fail(e)
                    except Exception as e:  # noqa: BLE001 (close every sink even if one fails)
                        self._fail(StreamError(f"closing {getattr(obj, 'uri', None) or obj.describe()} failed: "
                                               f"{type(e).__name__}: {e}"))
                self.stats = self.snapshot()
                self.stats_written = False
                if self.config.stats_path:
                    try:
                        write_stats(self.config.stats_path, self.stats)
                        self.stats_written = True
                    except (OSError, EdgefuseError) as e:
                        self._fail(StreamError(f"cannot write the stats {self.config.stats_path}: "
                                               f"{getattr(e, 'strerror', None) or e}"))
                        self.stats = self.snapshot()
        if self.error is not None:
            raise self.error
        return self.stats

    def _run_threads(self) -> None:
        c = self.config
        live = self.policy == "latest"
        wake = threading.Event()
        inputs = {side: _Channel(2 * c.queue_size, False, self._abort, wake) for side in SIDES}
        chans = [_Channel(1 if live else c.queue_size, live, self._abort) for _ in range(2)] + \
            [_Channel(c.queue_size, False, self._abort) for _ in range(2)]
        targets: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
            ("capture-ir", self._capture, ("ir", self.sources["ir"], inputs["ir"])),
            ("capture-vis", self._capture, ("vis", self.sources["vis"], inputs["vis"])),
            ("pair", self._pair, (inputs, chans[0], wake)),
            ("prepare", self._stage, (self._prepare, chans[0], chans[1])),
            ("infer", self._stage, (self._infer, chans[1], chans[2])),
            ("post", self._stage, (self._post, chans[2], chans[3])),
            ("sink", self._stage, (self._write, chans[3], None)),
        ]
        threads = [threading.Thread(target=fn, args=args, name=f"stream-{name}", daemon=True)
                   for name, fn, args in targets]
        for t in threads:
            t.start()
        while threads[-1].is_alive():  # join with a timeout so signal handlers run in the main thread
            threads[-1].join(0.2)
        for t in threads[:-1]:
            t.join(1.0)


def write_stats(path: str, stats: dict[str, Any]) -> None:
    """Write the stats JSON atomically."""
    write_bytes_atomic(Path(path), (json.dumps(stats, indent=2) + "\n").encode())


__all__ = ["StreamRunner", "write_stats"]
