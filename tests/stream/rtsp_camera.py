"""A two-camera RTSP server on 127.0.0.1 for the stream tests (GstRtspServer from Debian's packages).

Run as ``python tests/stream/rtsp_camera.py [--fps 30] [--size 320x240]``; it prints
``READY <port>`` and serves ``/ir`` and ``/vis`` until stdin closes or it is killed. Every frame
carries its capture time: ``time.monotonic()`` in milliseconds (mod 2**32), written as 32
black/white cells in a band of rows, IR in the top band and visible in the band below it (the
other band is black), so ``max`` fusion of a pair keeps both stamps and a test can read the true
capture times of both frames of every output pair (``decode_stamps``). Both mounts are fed from
one clock tick, so frames of the same tick have the same stamp, and each buffer's PTS is set to
that same instant on the media pipeline's clock (not to the push time, which scheduling delays
on a loaded machine would move away from the stamp).

Learned from gst-rtsp-server's examples (``test-appsrc``: an ``appsrc`` in a media factory fed
from the ``media-configure`` signal) and the ``GstRtspServer`` API reference.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import numpy as np

BITS = 32
BAND = 16  # rows per stamp band


def stamp(img: np.ndarray, band: int, ms: int) -> None:
    """Write ``ms`` (mod 2**32) into rows ``band*BAND .. +BAND`` of a grey image."""
    cell = img.shape[1] // BITS
    rows = slice(band * BAND, (band + 1) * BAND)
    for b in range(BITS):
        img[rows, b * cell:(b + 1) * cell] = 255 if (ms >> b) & 1 else 0


def decode_stamps(img: np.ndarray) -> tuple[int, int]:
    """(IR ms, visible ms) read back from a (fused) frame, grey or RGB."""
    grey = img if img.ndim == 2 else img.mean(axis=2)
    cell = grey.shape[1] // BITS
    out = []
    for band in (0, 1):
        rows = grey[band * BAND + 4:(band + 1) * BAND - 4]
        bits = [rows[:, b * cell + cell // 4:(b + 1) * cell - cell // 4].mean() > 127 for b in range(BITS)]
        out.append(sum(1 << b for b, on in enumerate(bits) if on))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="320x240")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    sources: dict[str, list] = {"ir": [], "vis": []}
    lock = threading.Lock()

    def factory(name: str) -> GstRtspServer.RTSPMediaFactory:
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(
            f"( appsrc name=src is-live=true format=time do-timestamp=false "
            f"caps=video/x-raw,format=GRAY8,width={w},height={h},framerate={round(args.fps)}/1 ! "
            "videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast "
            "key-int-max=15 bitrate=3000 ! rtph264pay name=pay0 pt=96 config-interval=1 )")
        f.set_shared(True)

        def configure(_f, media):  # one appsrc per media (shared by the clients of a mount)
            src = media.get_element().get_by_name("src")
            with lock:
                sources[name].append(src)
        f.connect("media-configure", configure)
        return f

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")
    mounts = server.get_mount_points()
    for name in ("ir", "vis"):
        mounts.add_factory(f"/{name}", factory(name))
    server.attach(None)
    print(f"READY {server.get_bound_port()}", flush=True)

    stop = threading.Event()

    def feed() -> None:
        period = 1.0 / args.fps
        nxt = time.monotonic()
        while not stop.is_set():
            nxt += period
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now_ns = time.monotonic_ns()  # the capture instant: in the pixels and in the PTS
            ms = (now_ns // 1_000_000) % (1 << BITS)
            for band, name in enumerate(("ir", "vis")):
                img = np.zeros((h, w), np.uint8)
                img[2 * BAND:] = 90  # a flat scene below the stamps
                stamp(img, band, ms)
                with lock:
                    targets = list(sources[name])
                for src in targets:
                    clock, base = src.get_clock(), src.get_base_time()
                    if clock is None or base == 0:
                        continue  # not playing yet
                    # the pipeline clock is the monotonic system clock; map our instant onto it
                    offset = clock.get_time() - time.monotonic_ns()
                    pts = now_ns + offset - base
                    if pts < 0:
                        continue
                    buf = Gst.Buffer.new_wrapped(img.tobytes())
                    buf.pts = pts
                    buf.duration = int(period * 1e9)
                    src.emit("push-buffer", buf)

    threading.Thread(target=feed, daemon=True).start()
    loop = GLib.MainLoop()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set(), loop.quit()), daemon=True).start()
    loop.run()


if __name__ == "__main__":
    main()
