"""Fakes and data helpers for the stream tests: a tiny backend, a recording sink, test clips."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgefuse.stream.frames import Frame
from edgefuse.stream.sinks import Fused, Sink
from edgefuse.stream.sources import SyntheticSource

M3SVD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "m3svd"


def m3svd() -> Path:
    """The shared M3SVD clips/sequences; the calling test skips when they are absent."""
    if not (M3SVD / "video").is_dir():
        pytest.skip("../shared/data/m3svd is not present")
    return M3SVD


class FakeBackend:
    """Follows the ``edgefuse.runtime.backends.Backend`` image-level contract; averages the inputs."""

    name = "fake"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self.last_latency_ms: float | None = None

    def __enter__(self) -> FakeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe(self) -> dict[str, object]:
        return {"backend": self.name, "device": "cpu", "precision": "fp32", "artefact": None}

    def fuse_u8(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += 1
        out = ((vis.astype(np.uint16) + ir[:, :, None]) // 2).astype(np.uint8)
        self.last_latency_ms = (time.perf_counter() - start) * 1000.0
        return out


class RecordingSink(Sink):
    """Keeps (ir index, vis index, seq, skew) of every result."""

    name = "record"

    def __init__(self) -> None:
        self.items: list[tuple[int, int, int, float]] = []
        self.closed = 0

    def write(self, item: Fused) -> None:
        self.items.append((item.pair.ir.index, item.pair.vis.index, item.seq, item.pair.skew_ms))

    def close(self) -> None:
        self.closed += 1


def frame(ts: float, index: int, source: str = "t") -> Frame:
    return Frame(np.zeros((2, 2), np.uint8), ts, index, source)


def write_clip(path: Path, mode: str, frames: int = 60, size: tuple[int, int] = (160, 120), fps: float = 30.0) -> Path:
    """An mp4 of the synthetic scene (frame index readable with ``decode_index``)."""
    src = SyntheticSource("synthetic://" + mode, mode=mode, fps=fps, size=size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        img = src.render(i)
        writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def count_frames(path: Path) -> int:
    """Frames decodable from a video file (read back one by one, not the header's count)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n
