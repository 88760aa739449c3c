"""The web viewer of a running stream: one consistent frame set pushed as MJPEG, health, charts.

Standard library only (``http.server`` in a thread). Endpoints:

* ``/``            the monitoring page (below);
* ``/stream.mjpg`` MJPEG (``multipart/x-mixed-replace``) push of the frame set: fused, visible
  and registered IR of the *same pair* side by side in one JPEG, with the pair's sequence
  number and capture times burned into a footer, so the three views can never show
  different pairs (the page splits and composes them on a canvas);
* ``/frame.jpg``   the newest frame set as one JPEG; ``/fused.jpg``, ``/vis.jpg``, ``/ir.jpg`` its parts;
* ``/events``      Server-Sent Events: the live stats every 0.5 s (and a last one when the stream ends);
* ``/stats``       the same stats as JSON.

The page: a view (fused, side by side, a visible/IR blend slider, IR palettes), frame
timestamps, a health panel per camera (state, fps, drops, skew, reconnects, overwritten
frames) with small live charts of fps, latency and skew, and snapshot (PNG) and record
(WebM through the browser's ``MediaRecorder`` on the canvas) buttons. It says ``live``,
``replay`` (file sources), ``ended`` (the stream finished; the viewer keeps serving for
``?linger=S`` seconds, ``-1`` until Ctrl-C) or ``disconnected``.

Security: the viewer has no authentication of its own and binds 127.0.0.1 unless told
otherwise (``--out http://0.0.0.0:8080`` serves the whole network). ``?token=SECRET`` makes
every request need that token (``?token=`` in the URL, which the page passes on); the served
stats carry no secrets (URIs redacted) and no file paths (names only).

It is the ``http`` kind of the sink registry (``sink_base.SINKS``), registered on import.

Learned from: the MJPEG-over-HTTP convention (``multipart/x-mixed-replace``, as served by
mjpg-streamer and motion), the WHATWG HTML spec's Server-Sent Events and MDN's pages on
``EventSource``, ``canvas.captureStream`` and ``MediaRecorder``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np

from edgefuse.errors import ConfigError, StreamError
from edgefuse.resources import package_file
from edgefuse.secrets import redact, redact_obj
from edgefuse.stream.sink_base import FpsFn, Fused, Sink, SinkKind, register_sink

logger = logging.getLogger(__name__)

PAGE = ("stream", "viewer.html")  # package data, read with importlib.resources
TILE_W = 480  # width of each of the three tiles in the frame set
FOOTER = 22


def parse_address(spec: str) -> tuple[str, int]:
    """``http://HOST:PORT`` -> (host, port); no host means 127.0.0.1; port 0 picks a free port."""
    host, port, _token = parse_viewer(spec)
    return host, port


def parse_viewer(spec: str) -> tuple[str, int, str | None]:
    """``http://[HOST]:PORT[?token=T]`` -> (host, port, token); the host defaults to 127.0.0.1."""
    parts = urlsplit(spec)
    shown = redact(spec)
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"--out {shown!r}: the port is not a number") from e
    if port is None:
        raise ConfigError(f"--out {shown!r}: give a port, e.g. http://127.0.0.1:8080 (this machine only)")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(query) - {"token", "linger"}
    if unknown:
        raise ConfigError(f"--out {shown!r}: unknown option {sorted(unknown)[0]!r}; the viewer takes "
                          "?token=SECRET and ?linger=SECONDS")
    token = query.get("token") or None
    return parts.hostname or "127.0.0.1", port, token


def parse_linger(spec: str) -> float:
    """``?linger=S`` of a viewer URL: seconds to keep serving after the stream ends (-1: until Ctrl-C)."""
    query = dict(parse_qsl(urlsplit(spec).query))
    try:
        return float(query.get("linger", 0))
    except ValueError as e:
        raise ConfigError(f"--out {redact(spec)!r}: linger={query['linger']!r} is not a number") from e


_PATHISH = re.compile(r"(?<![\w:/])(/[^\s'\"?]+)")


def public_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """The stats as the viewer serves them: secrets redacted, file paths cut to their names."""
    def clean(v: Any) -> Any:
        if isinstance(v, str):
            v = redact(v)
            if v.startswith("file://"):
                return "file://" + os.path.basename(v[7:].split("?")[0].rstrip("/"))
            return _PATHISH.sub(lambda m: os.path.basename(m.group(1).rstrip("/")) or m.group(1), v) \
                if "://" not in v else v
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return clean(redact_obj(stats))


def _tile(img: np.ndarray, w: int, h: int) -> np.ndarray:
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[1] != w or img.shape[0] != h:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img


def compose(item: Fused) -> np.ndarray:
    """fused | visible | IR of one pair in one RGB image, with a footer of its times."""
    fh, fw = item.fused.shape[:2]
    w = min(TILE_W, fw)
    h = max(1, round(fh * w / fw))
    row = np.concatenate([_tile(item.fused, w, h), _tile(item.vis, w, h), _tile(item.ir, w, h)], axis=1)
    foot = np.full((FOOTER, row.shape[1], 3), 24, np.uint8)
    p = item.pair
    text = (f"pair {item.seq}   ir #{p.ir.index} t={p.ir.ts:.3f}s   vis #{p.vis.index} t={p.vis.ts:.3f}s   "
            f"skew {p.skew_ms:+.1f} ms")
    cv2.putText(foot, text, (6, FOOTER - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (220, 220, 220), 1, cv2.LINE_AA)
    return np.concatenate([row, foot], axis=0)


class _Latest:
    """The newest frame set; composed and JPEG-encoded once per frame, on first request."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = -1
        self.item: Fused | None = None
        self.meta: dict[str, Any] = {}
        self._jpeg: dict[str, tuple[int, bytes]] = {}
        self.delivered: deque[float] = deque(maxlen=5000)  # capture -> sent to a browser, ms

    def put(self, item: Fused) -> None:
        p = item.pair
        with self.cond:
            self.seq = item.seq
            self.item = item
            self.meta = {"seq": item.seq, "ir_index": p.ir.index, "vis_index": p.vis.index,
                         "ir_ts": round(p.ir.ts, 4), "vis_ts": round(p.vis.ts, 4), "skew_ms": round(p.skew_ms, 2)}
            self.cond.notify_all()

    def capture(self) -> float | None:
        with self.cond:
            it = self.item
        return None if it is None else min(it.pair.ir.t_capture, it.pair.vis.t_capture)

    def jpeg(self, name: str = "frame") -> bytes | None:
        with self.cond:
            seq, item = self.seq, self.item
            cached = self._jpeg.get(name)
        if item is None:
            return None
        if cached is not None and cached[0] == seq:
            return cached[1]
        if name == "frame":
            img = compose(item)
        else:
            img = {"fused": item.fused, "vis": item.vis, "ir": item.ir}[name]
            if name != "fused" and img.shape[1] > 320:  # thumbnails
                img = cv2.resize(img, (320, round(img.shape[0] * 320 / img.shape[1])), interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
        data = buf.tobytes() if ok else b""
        with self.cond:
            self._jpeg[name] = (seq, data)
        return data


_BLANK = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, fmt: str, *args: Any) -> None:  # route to our logger, not stderr
        logger.debug("viewer %s " + redact(fmt % args))

    def _send(self, body: bytes, ctype: str, code: int = 200) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self, query: dict[str, str]) -> bool:
        token = self.server.token
        if not token:
            return True
        given = query.get("token") or ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = given or auth[7:]
        return hmac.compare_digest(given.encode(), token.encode())

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        with self.server.hits_lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
        try:
            if not self._authorised(query):
                self._send(b"a token is required: open the URL with ?token=...\n", "text/plain", 401)
            elif path in ("/", "/index.html"):
                self._send(self.server.page, "text/html; charset=utf-8")
            elif path in ("/frame.jpg", "/fused.jpg", "/vis.jpg", "/ir.jpg"):
                self._send(self.server.latest.jpeg(path[1:-4]) or _BLANK, "image/jpeg")
            elif path == "/stats":
                self._send(json.dumps(self.server.stats()).encode(), "application/json")
            elif path == "/stream.mjpg":
                self._mjpeg()
            elif path == "/events":
                self._events()
            else:
                self._send(b"not found\n", "text/plain", 404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away

    def _mjpeg(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        latest, seen = self.server.latest, -2
        deadline = time.monotonic() + 24 * 3600.0  # bounded, like every loop here
        while not self.server.closing.is_set() and time.monotonic() < deadline:
            with latest.cond:
                latest.cond.wait_for(lambda: latest.seq != seen or self.server.closing.is_set(), timeout=1.0)
                seq = latest.seq
            if seq == seen:
                continue
            seen = seq
            data = latest.jpeg("frame") or _BLANK
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                             + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
            self.wfile.flush()
            cap = latest.capture()
            if cap is not None:
                latest.delivered.append((time.monotonic() - cap) * 1000.0)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        deadline = time.monotonic() + 24 * 3600.0
        while time.monotonic() < deadline:
            doc = self.server.stats()
            with self.server.latest.cond:
                doc["frame"] = dict(self.server.latest.meta)
            self.wfile.write(b"data: " + json.dumps(doc).encode() + b"\n\n")
            self.wfile.flush()
            if self.server.closing.wait(0.5):
                break


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    latest: _Latest
    stats: Callable[[], dict[str, Any]]
    closing: threading.Event
    hits: dict[str, int]
    hits_lock: threading.Lock
    token: str | None
    page: bytes


class ViewerSink(Sink):
    """Serves the newest frame set, health and stats over HTTP while the stream runs.

    Args:
        host, port: where to listen (127.0.0.1 unless told otherwise; port 0 picks one).
        token: when set, every request must carry ``?token=`` (or ``Authorization: Bearer``).
        linger: seconds the page keeps being served after the stream ended (``-1``: until
            Ctrl-C); ``wait`` does the waiting (the CLI calls it).
    """

    name = "http"
    live_output = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 linger: float = 0.0) -> None:
        self.host, self.port, self.token, self.linger = host, port, token, linger
        self._latest = _Latest()
        self._stats_fn: Callable[[], dict[str, Any]] = dict
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._final: dict[str, Any] | None = None
        self.hits: dict[str, int] = {}  # requests per path, for monitoring and tests

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def attach_stats(self, fn: Callable[[], dict[str, Any]]) -> None:
        self._stats_fn = fn

    def client_latency(self) -> dict[str, float] | None:
        """Capture -> delivery to a browser, p50/p99 ms (None before a browser got a frame)."""
        d = list(self._latest.delivered)
        if not d:
            return None
        return {"p50": round(float(np.percentile(d, 50)), 3), "p99": round(float(np.percentile(d, 99)), 3)}

    def _stats(self) -> dict[str, Any]:
        st = self._final if self._final is not None else self._stats_fn()
        return public_stats(st)

    def open(self) -> None:
        if self._server is not None:
            return
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as e:
            raise StreamError(f"cannot serve the viewer on {self.host}:{self.port}: {e.strerror} "
                              "(port in use? pick another with --out http://127.0.0.1:PORT)") from e
        server.latest, server.closing = self._latest, threading.Event()
        server.hits, server.hits_lock = self.hits, threading.Lock()
        server.stats = self._stats
        server.token = self.token
        server.page = package_file(*PAGE).read_bytes()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name="viewer")
        self._thread.start()
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            logger.warning("viewer: serving on %s, reachable from the network and without authentication%s",
                           self.host, "" if self.token else " (add ?token=SECRET to require a token)")
        logger.info("viewer: %s", redact(self.url))

    def write(self, item: Fused) -> None:
        self._latest.put(item)

    def close(self) -> None:
        """Mark the stream ended (the page says so); shut down now unless ``linger`` keeps it up."""
        if self._server is None:
            return
        final = dict(self._stats_fn())
        final["running"] = False
        self._final = final
        if self.linger == 0:
            self.shutdown()

    def wait(self) -> None:
        """Keep serving the ended stream for ``linger`` seconds (-1: until Ctrl-C), then shut down."""
        if self._server is None:
            return
        try:
            if self.linger:
                logger.warning("viewer: the stream ended; still serving %s %s", redact(self.url),
                               "until Ctrl-C" if self.linger < 0 else f"for {self.linger:g} s (Ctrl-C to quit)")
                end = time.monotonic() + (self.linger if self.linger > 0 else 365 * 24 * 3600.0)
                while time.monotonic() < end:
                    time.sleep(min(0.2, max(0.0, end - time.monotonic())))
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.closing.set()
            with self._latest.cond:
                self._latest.cond.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def describe(self) -> str:
        return redact(self.url)


def _viewer_sink(spec: str, fps: float | None, fps_fn: FpsFn | None) -> ViewerSink:
    """The ``http`` sink kind: ``http://[HOST]:PORT[?token=T&linger=S]`` (frame rates do not apply)."""
    host, port, token = parse_viewer(spec)
    return ViewerSink(host, port, token, linger=parse_linger(spec))


register_sink(SinkKind("http", _viewer_sink, "the web viewer", "http://127.0.0.1:8080", schemes=("http",)))


__all__ = ["ViewerSink", "compose", "parse_address", "parse_linger", "parse_viewer", "public_stats"]
