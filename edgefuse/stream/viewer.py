"""A small web viewer for a running stream: fused view, IR/visible thumbnails, live stats.

Standard library only (``http.server`` in a thread). Endpoints:

* ``/``            HTML page; it polls the JPEG endpoints and ``/stats`` from JavaScript,
* ``/fused.jpg``, ``/ir.jpg``, ``/vis.jpg``  the newest frames (encoded on request, cached),
* ``/stream.mjpg`` an MJPEG (``multipart/x-mixed-replace``) stream of the fused view, for
  VLC/ffplay or an ``<img>`` tag,
* ``/stats``       the live stats as JSON.

Polling keeps the page's ``load`` event finite (an MJPEG ``<img>`` never finishes loading),
which headless browsers and screenshots rely on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from edgefuse.errors import ConfigError, StreamError
from edgefuse.stream.sinks import Fused, Sink

logger = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgefuse stream</title>
<style>
 body { background:#111; color:#ddd; font:14px sans-serif; margin:12px; }
 #main { display:flex; gap:12px; align-items:flex-start; }
 #fused { max-width:75vw; border:1px solid #444; }
 .thumb { width:240px; border:1px solid #444; display:block; margin-bottom:8px; }
 table { border-collapse:collapse; } td { padding:2px 8px; border-bottom:1px solid #333; }
</style></head>
<body>
<h3>edgefuse stream <span id="state">live</span></h3>
<div id="main">
 <img id="fused" src="/fused.jpg?n=0" alt="fused view">
 <div>
  <div>visible</div><img id="vis" class="thumb" src="/vis.jpg?n=0" alt="visible">
  <div>infrared (registered)</div><img id="ir" class="thumb" src="/ir.jpg?n=0" alt="infrared">
  <table id="stats"><tbody></tbody></table>
 </div>
</div>
<script>
let n = 0;
function refresh(id) {
  const img = document.getElementById(id);
  const next = new Image();
  next.onload = () => { img.src = next.src; setTimeout(() => refresh(id), 100); };
  next.onerror = () => setTimeout(() => refresh(id), 500);
  next.src = "/" + id + ".jpg?n=" + (++n);
}
function flat(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === "object") flat(v, prefix + k + ".", out); else out.push([prefix + k, v]);
  }
  return out;
}
async function stats() {
  try {
    const s = await (await fetch("/stats?n=" + (++n))).json();
    const body = document.querySelector("#stats tbody");
    body.innerHTML = "";
    for (const [k, v] of flat(s, "", [])) {
      const tr = body.insertRow(); tr.insertCell().textContent = k;
      tr.insertCell().textContent = typeof v === "number" ? (Math.round(v * 100) / 100) : v;
    }
    document.getElementById("state").textContent = s.running ? "live" : "ended";
  } catch (e) { document.getElementById("state").textContent = "disconnected"; }
  setTimeout(stats, 500);
}
refresh("fused"); refresh("vis"); refresh("ir"); stats();
</script>
</body></html>
"""


def parse_address(spec: str) -> tuple[str, int]:
    """``http://HOST:PORT`` -> (host, port); port 0 picks a free port."""
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"--out {spec!r}: the port is not a number") from e
    if not parts.hostname or port is None:
        raise ConfigError(f"--out {spec!r}: give host and port, e.g. http://0.0.0.0:8080")
    return parts.hostname, port


class _Latest:
    """The newest fused/visible/IR frames, JPEG-encoded on first request and cached per frame."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = -1
        self.images: dict[str, np.ndarray] = {}
        self._jpeg: dict[str, tuple[int, bytes]] = {}

    def put(self, item: Fused) -> None:
        with self.cond:
            self.seq = item.seq
            self.images = {"fused": item.fused, "vis": item.vis, "ir": item.ir}
            self.cond.notify_all()

    def jpeg(self, name: str) -> bytes | None:
        with self.cond:
            seq, img = self.seq, self.images.get(name)
            cached = self._jpeg.get(name)
        if img is None:
            return None
        if cached is not None and cached[0] == seq:
            return cached[1]
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
        logger.debug("viewer %s " + fmt, self.address_string(), *args)

    def _send(self, body: bytes, ctype: str, code: int = 200) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        with self.server.hits_lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
        try:
            if path in ("/", "/index.html"):
                self._send(PAGE.encode(), "text/html; charset=utf-8")
            elif path in ("/fused.jpg", "/vis.jpg", "/ir.jpg"):
                self._send(self.server.latest.jpeg(path[1:-4]) or _BLANK, "image/jpeg")
            elif path == "/stats":
                self._send(json.dumps(self.server.stats_fn()).encode(), "application/json")
            elif path == "/stream.mjpg":
                self._mjpeg()
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
        while not self.server.closing.is_set():
            with latest.cond:
                latest.cond.wait_for(lambda: latest.seq != seen or self.server.closing.is_set(), timeout=1.0)
                seq = latest.seq
            if seq == seen:
                continue
            seen = seq
            data = latest.jpeg("fused") or _BLANK
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                             + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    latest: _Latest
    stats_fn: Callable[[], dict[str, Any]]
    closing: threading.Event
    hits: dict[str, int]
    hits_lock: threading.Lock


class ViewerSink(Sink):
    """Serves the newest fused frame and stats over HTTP while the stream runs."""

    name = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.host, self.port = host, port
        self._latest = _Latest()
        self._stats_fn: Callable[[], dict[str, Any]] = dict
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.hits: dict[str, int] = {}  # requests per path, for monitoring and tests

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def attach_stats(self, fn: Callable[[], dict[str, Any]]) -> None:
        self._stats_fn = fn

    def open(self) -> None:
        if self._server is not None:
            return
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as e:
            raise StreamError(f"cannot serve the viewer on {self.host}:{self.port}: {e.strerror} "
                              "(port in use? pick another with --out http://HOST:PORT)") from e
        server.latest, server.closing = self._latest, threading.Event()
        server.hits, server.hits_lock = self.hits, threading.Lock()
        server.stats_fn = lambda: self._stats_fn()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name="viewer")
        self._thread.start()
        logger.info("viewer: %s", self.url)

    def write(self, item: Fused) -> None:
        self._latest.put(item)

    def close(self) -> None:
        if self._server is not None:
            self._server.closing.set()
            with self._latest.cond:
                self._latest.cond.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def describe(self) -> str:
        return self.url


__all__ = ["PAGE", "ViewerSink", "parse_address"]
