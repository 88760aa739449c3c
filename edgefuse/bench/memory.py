"""Peak host (RSS) and device memory of a benchmark run."""

from __future__ import annotations

import resource
import sys
from typing import Any


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    ``ru_maxrss`` is the high-water mark of the whole process (KiB on Linux, bytes on macOS),
    so it includes the interpreter, torch and every model loaded earlier in the same process.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def current_rss_mb() -> float | None:
    """Resident set size now, in MiB (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() / 2**20


def reset_device_peak(backend: Any) -> None:
    """Start a fresh device-memory high-water mark (torch CUDA only; TensorRT tracks its own)."""
    if _torch_cuda(backend):
        import torch

        torch.cuda.reset_peak_memory_stats(backend.device)


def peak_device_mb(backend: Any) -> float | None:
    """Peak device memory of the run in MiB, or ``None`` where it cannot be told (CPU, ONNX Runtime).

    torch CUDA: ``torch.cuda.max_memory_allocated`` (tensors through the caching allocator,
    since ``reset_device_peak``). TensorRT: the backend's ``peak_device_mb`` (device memory in
    use, from ``cudaMemGetInfo``, after each call).
    """
    if _torch_cuda(backend):
        import torch

        return torch.cuda.max_memory_allocated(backend.device) / 2**20
    peak = getattr(backend, "peak_device_mb", None)
    if peak:
        return float(peak)
    return None


def _torch_cuda(backend: Any) -> bool:
    return getattr(backend, "name", "") == "torch" and str(getattr(backend, "device", "")).startswith("cuda")
