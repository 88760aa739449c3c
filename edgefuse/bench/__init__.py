"""Benchmarks of any fusion artefact: latency, throughput, stages, memory and accuracy vs FP32.

``run_bench(BenchConfig(...))`` opens a torch model, an ONNX file (ONNX Runtime) or a TensorRT
plan through ``edgefuse.runtime.backends``, runs ``warmup`` untimed calls, then ``iters`` timed calls (or
as many as fit in ``seconds``) and returns a JSON-ready dict; ``run_compare`` does that for
several artefacts at one size and adds speed-ups. ``edgefuse bench`` is the CLI over both.

JSON keys of one result (stable; ``edgefuse bench --json FILE``):

==================  =====================================================================
``backend``         ``torch``, ``onnxruntime`` or ``tensorrt``
``device``          backend device: ``cpu``, ``cuda[:N]`` (ONNX Runtime also ``tensorrt``)
``device_name``     GPU name for CUDA devices, CPU model otherwise
``precision``       ``fp32``, ``fp16`` or ``int8`` (artefacts: from the sidecar or the graph)
``artefact``        the file or model that ran
``versions``        {package: version}: edgefuse, python, numpy and the backend's runtime
``height``          input height the pairs were made at
``width``           input width
``batch``           pairs per call
``threads``         CPU threads asked for (0 = the runtime's default)
``warmup``          untimed calls before timing
``iters``           timed calls
``wall_s``          seconds of the timed loop
``input``           {``source``: ``random`` or the ``--data`` folder, ``fed_shape``: the vis
                    array shape given to the backend (padded up by a size rule, e.g. DTPF's
                    multiple of 64, on dynamic graphs), ``batches``: distinct input batches}
``latency_ms``      {``p50``, ``p90``, ``p99``, ``mean``, ``std``, ``min``, ``max``}: host wall
                    time of one ``Backend.infer`` call (a batch), ms
``throughput_fps``  pairs per second over the timed loop (batch x iters / wall_s)
``stages_ms``       mean ms per call of the stages the backend can tell apart, a subset of
                    ``pre``, ``h2d``, ``compute``, ``d2h``, ``post`` (CPU backends have no
                    transfers; ONNX Runtime on CPU reports ``compute`` only)
``peak_rss_mb``     peak resident set size of the process (``ru_maxrss``), MiB: includes
                    everything the process loaded before (reference models, other entries
                    of ``--compare``)
``peak_device_mb``  peak device memory in MiB (torch CUDA: max allocated; TensorRT: device
                    memory in use after calls), ``null`` on the CPU and for ONNX Runtime
``variation``       {``spread``: std / p50, ``tail``: p99 / p50}
``warnings``        list of one-line warnings (high run-to-run variation, too few iterations)
``accuracy``        only with ``--data``: {``available``, ``reference``, ``data``, ``pairs``,
                    ``psnr_db_mean``, ``psnr_db_min``, ``ssim_mean``, ``ssim_min``} of the
                    8-bit fused images against the PyTorch FP32 model of the same weights,
                    or {``available``: false, ``reason``} when the artefact names no checkpoint
==================  =====================================================================

``--compare A B ...`` writes ``{"baseline": A, "results": [result + {"name": ...}, ...],
"speedup": [1.0, ...]}`` where speed-up is p50 latency of A over p50 latency of each entry.
Floats are rounded to 4 decimals in the files.
"""

from __future__ import annotations

from edgefuse.bench.benchmark import BenchConfig, benchmark, run_bench
from edgefuse.bench.compare import run_compare
from edgefuse.bench.report import format_compare, format_report, write_json
from edgefuse.bench.stats import latency_stats, variation_warning

JSON_KEYS = (
    "backend", "device", "device_name", "precision", "artefact", "versions", "height", "width", "batch", "threads",
    "warmup", "iters", "wall_s", "input", "latency_ms", "throughput_fps", "stages_ms", "peak_rss_mb",
    "peak_device_mb", "variation", "warnings",
)
"""Keys of every result, in order; ``accuracy`` follows when ``--data`` is given."""

__all__ = [
    "JSON_KEYS",
    "BenchConfig",
    "benchmark",
    "format_compare",
    "format_report",
    "latency_stats",
    "run_bench",
    "run_compare",
    "variation_warning",
    "write_json",
]
