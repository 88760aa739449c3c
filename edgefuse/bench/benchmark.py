"""``BenchConfig`` and the measurement loop: warm-up, timed iterations, stages, memory, accuracy.

The loop follows what trtexec and Polygraphy do for a fair number (NVIDIA/TensorRT
``samples/trtexec/README.md``: warm-up before timing, a fixed iteration count or a duration,
per-iteration host wall time, percentiles; Polygraphy ``run --iterations``): the first calls
(lazy allocation, kernel selection, CUDA-graph capture, thread-pool start) are excluded, every
timed call is one ``Backend.infer`` on preallocated input arrays, and the backend's own stage
split (pre/h2d/compute/d2h/post) is averaged alongside.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.runtime.backends.base import Backend
from edgefuse.bench import accuracy as acc
from edgefuse.bench.memory import peak_device_mb, peak_rss_mb, reset_device_peak
from edgefuse.bench.stats import latency_stats, stage_means, variation, variation_warning
from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.hostinfo import cpu_name

DEFAULT_SIZE = (480, 640)
DEFAULT_ITERS = 50
MAX_DATA_FRAMES = 8  # distinct input batches cycled through when --data is given

Progress = Callable[[str, int, "int | None"], None]  # (phase, done, total or None for --seconds)


@dataclass(frozen=True)
class BenchConfig:
    """Options of one benchmark (``edgefuse bench``); at most one of ``engine``/``onnx``/``model``.

    Attributes:
        engine: TensorRT plan.
        onnx: ONNX file (ONNX Runtime).
        model: Any model spec (shipped name, checkpoint, ``.onnx``, plan; an architecture with
            ``random_weights``); ``None`` with no artefact at all is the shipped default student.
        backend: Force a backend (``torch``, ``onnxruntime``/``ort``, ``tensorrt``/``trt``).
        device: Backend device (``cpu``/``cuda``; ONNX Runtime also ``tensorrt``).
        precision: torch only, ``fp32`` or ``fp16`` (artefacts carry their own).
        threads: CPU threads (0 = the runtime's default).
        height: Input height; default the artefact's static height, else 480.
        width: Input width; default the artefact's static width, else 640.
        batch: Pairs per call.
        warmup: Untimed calls before timing.
        iters: Timed calls (default 50 unless ``seconds`` is given).
        seconds: Time calls for this long instead of a fixed count.
        data: Folder of real pairs (``ir/`` + ``vi/``) used as inputs and for accuracy.
        accuracy_pairs: At most this many pairs for the accuracy check.
        seed: Seed of the random input frames.
        random_weights: Let ``model`` be an architecture name (seeded random weights: timing only).
    """

    engine: str | None = None
    onnx: str | None = None
    model: str | None = None
    backend: str | None = None
    device: str | None = None
    precision: str | None = None
    threads: int = 0
    height: int | None = None
    width: int | None = None
    batch: int = 1
    warmup: int = 5
    iters: int | None = None
    seconds: float | None = None
    data: str | None = None
    accuracy_pairs: int = 8
    channels_last: bool = False
    cuda_graphs: bool = False
    seed: int = 0
    random_weights: bool = False

    def __post_init__(self) -> None:
        from edgefuse.runtime import canonical_backend

        if self.backend is not None:
            canonical_backend(self.backend)  # UnknownNameError with suggestions
        if self.iters is not None and self.seconds is not None:
            raise ConfigError("pass --iters or --seconds, not both")
        if self.iters is not None and self.iters < 1:
            raise ConfigError(f"--iters must be at least 1 (timed iterations), got {self.iters}")
        if self.seconds is not None and not self.seconds > 0:
            raise ConfigError(f"--seconds must be positive, got {self.seconds}")
        for key, low in (("warmup", 0), ("batch", 1), ("threads", 0), ("accuracy_pairs", 1)):
            if getattr(self, key) < low:
                raise ConfigError(f"--{key.replace('_', '-')} must be at least {low}, got {getattr(self, key)}")
        for key in ("height", "width"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"--{key} must be a positive number of pixels, got {getattr(self, key)}")
        if self.precision is not None and (self.engine or self.onnx or _suffix_backend(self.model) != "torch"):
            raise ConfigError("--precision applies to torch models only: an ONNX file or engine carries its own "
                              "precision (export <model>_fp16.onnx / _int8.onnx to bench those)")
        if self.data is not None and not Path(self.data).is_dir():
            raise ConfigError(f"--data must be a folder of pairs (ir/ + vi/); {self.data} is not a folder")

    @property
    def timed_iters(self) -> int | None:
        """Fixed number of timed calls, or ``None`` when timing for ``seconds``."""
        return self.iters if self.iters is not None else (None if self.seconds is not None else DEFAULT_ITERS)

    def replace(self, **changes: Any) -> BenchConfig:
        return dataclasses.replace(self, **changes)


def _suffix_backend(path: str | None) -> str:
    from edgefuse.runtime import backend_for

    return backend_for(path)


def open_for(cfg: BenchConfig) -> Backend:
    """The backend ``cfg`` asks for (not opened yet)."""
    from edgefuse.runtime import open_backend

    return open_backend(engine=cfg.engine, onnx=cfg.onnx, model=cfg.model, backend=cfg.backend, device=cfg.device,
                        precision=cfg.precision, threads=cfg.threads, channels_last=cfg.channels_last,
                        cuda_graphs=cfg.cuda_graphs, random_weights=cfg.random_weights, text="fixed")


def resolve_size(cfg: BenchConfig, backend: Backend) -> tuple[int, int]:
    """(H, W) to bench at; a static artefact refuses any other size with the size it takes.

    Raises:
        ShapeMismatchError: ``--height``/``--width`` or ``--batch`` differ from a static artefact's.
    """
    fixed = backend.static_hw
    default = fixed or DEFAULT_SIZE
    h, w = cfg.height or default[0], cfg.width or default[1]
    name = backend.artefact or backend.name
    if fixed is not None and (h, w) != fixed:
        raise ShapeMismatchError(
            f"{name} has a static input shape of {fixed[0]}x{fixed[1]}, so it cannot be benchmarked at {h}x{w}: "
            f"use --height {fixed[0]} --width {fixed[1]} (or leave them out), or export it for {h}x{w} "
            f"(edgefuse export --height {h} --width {w}, or --dynamic)"
        )
    static_batch = backend.static_batch
    if static_batch is not None and cfg.batch != static_batch:
        raise ShapeMismatchError(f"{name} has a static batch of {static_batch}; got --batch {cfg.batch}. "
                                 f"Use --batch {static_batch} or export with that batch")
    return h, w


def make_frames(cfg: BenchConfig, size: tuple[int, int], fed: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Input batches: one of random frames, or up to ``MAX_DATA_FRAMES`` from ``cfg.data``.

    Frames are made at ``size`` and padded (reflect) up to ``fed``, the size the backend's
    size rule needs, as ``fuse_u8`` does in deployment.
    """
    if cfg.data is None:
        rng = np.random.default_rng(cfg.seed)
        vis = rng.random((cfg.batch, 3, *size), dtype=np.float32)
        ir = rng.random((cfg.batch, 1, *size), dtype=np.float32)
        batches = [(vis, ir)]
    else:
        pairs = acc.load_pairs(cfg.data, MAX_DATA_FRAMES * cfg.batch, size)
        vis_all = np.stack([p.vis.transpose(2, 0, 1) for p in pairs]).astype(np.float32) / 255.0
        ir_all = np.stack([p.ir[None] for p in pairs]).astype(np.float32) / 255.0
        idx = [np.arange(k, k + cfg.batch) % len(pairs) for k in range(0, max(len(pairs), 1), cfg.batch)]
        batches = [(vis_all[i], ir_all[i]) for i in idx]
    if fed != size:
        pad = ((0, 0), (0, 0), (0, fed[0] - size[0]), (0, fed[1] - size[1]))
        mode = "reflect" if min(size) > 1 and fed[0] < 2 * size[0] and fed[1] < 2 * size[1] else "edge"
        batches = [(np.pad(v, pad, mode=mode), np.pad(i, pad, mode=mode)) for v, i in batches]
    return [(np.ascontiguousarray(v), np.ascontiguousarray(i)) for v, i in batches]


def device_name(backend: Backend) -> str:
    """GPU name for CUDA devices, the CPU model otherwise."""
    dev = str(backend.device)
    if dev.startswith("cuda") or dev == "tensorrt":
        try:
            import torch

            if torch.cuda.is_available():
                return str(torch.cuda.get_device_name(dev if dev.startswith("cuda") else 0))
        except Exception:  # torch without CUDA, or a driver problem: the name is informative only
            pass
        return "CUDA GPU"
    return cpu_name()


def _timed_loop(backend: Backend, frames: list[tuple[np.ndarray, np.ndarray]], cfg: BenchConfig,
                progress: Progress | None) -> tuple[list[float], list[dict[str, float]], float]:
    total = cfg.timed_iters
    lat: list[float] = []
    stages: list[dict[str, float]] = []
    start = time.perf_counter()
    k = 0
    while (total is not None and k < total) or (total is None and time.perf_counter() - start < cfg.seconds):
        vis, ir = frames[k % len(frames)]
        t0 = time.perf_counter()
        backend.infer(vis, ir)
        lat.append((time.perf_counter() - t0) * 1000.0)
        stages.append(dict(backend.last_stages_ms))
        k += 1
        if progress:
            progress("timed", k, total)
    return lat, stages, time.perf_counter() - start


def benchmark(backend: Backend, cfg: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Benchmark an open (or openable) backend; return the JSON-ready result (keys: ``JSON_KEYS``).

    Raises:
        ShapeMismatchError: a size or batch a static artefact does not take.
        DataError: ``cfg.data`` without readable pairs.
    """
    backend.open()
    size = resolve_size(cfg, backend)
    fed = backend.padded_size(*size) if backend.static_hw is None else size
    frames = make_frames(cfg, size, fed)
    for k in range(cfg.warmup):
        backend.infer(*frames[k % len(frames)])
        if progress:
            progress("warmup", k + 1, cfg.warmup)
    reset_device_peak(backend)
    lat, stages, wall = _timed_loop(backend, frames, cfg, progress)
    stats = latency_stats(lat)
    warn = variation_warning(stats, len(lat), cfg.threads)
    result: dict[str, Any] = {
        "backend": backend.name, "device": backend.device, "device_name": device_name(backend),
        "precision": backend.precision, "artefact": backend.artefact, "versions": _versions(backend),
        "height": size[0], "width": size[1], "batch": cfg.batch, "threads": cfg.threads, "warmup": cfg.warmup,
        "iters": len(lat), "wall_s": wall,
        "input": {"source": cfg.data or "random", "fed_shape": list(frames[0][0].shape), "batches": len(frames)},
        "latency_ms": stats, "throughput_fps": cfg.batch * len(lat) / wall if wall > 0 else 0.0,
        "stages_ms": stage_means(stages), "peak_rss_mb": peak_rss_mb(), "peak_device_mb": peak_device_mb(backend),
        "variation": variation(stats), "warnings": [warn] if warn else [],
    }
    if cfg.data is not None:
        pairs = acc.load_pairs(cfg.data, cfg.accuracy_pairs, size)
        result["accuracy"] = acc.measure_accuracy(backend, pairs, cfg.data, cfg.threads)
    return result


def _versions(backend: Backend) -> dict[str, str]:
    from edgefuse._version import __version__

    out = {"edgefuse": __version__, "python": platform.python_version(), "numpy": np.__version__}
    out.update(backend.versions())
    return out


def run_bench(cfg: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Open the backend ``cfg`` names, benchmark it and close it (see ``benchmark``)."""
    backend = open_for(cfg)
    try:
        return benchmark(backend, cfg, progress)
    finally:
        backend.close()
