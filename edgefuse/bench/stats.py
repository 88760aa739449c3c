"""Latency statistics of a benchmark run: percentiles, spread, stage means and the variation warning.

The fields follow trtexec's performance summary (``samples/common/sampleReporting.cpp`` in
NVIDIA/TensorRT: min, max, mean, median and percentiles of each timed quantity, plus its
coefficient-of-variation diagnosis) with p50/p90/p99 as the default percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

LATENCY_KEYS = ("p50", "p90", "p99", "mean", "std", "min", "max")
STAGES = ("pre", "h2d", "compute", "d2h", "post")

# Run-to-run variation above which the report warns. trtexec warns when the GPU compute
# time's coefficient of variation exceeds 2.5 %, which suits a locked-clock GPU; shared CPUs
# and Python timing are noisier, so the bar here is 10 % (std over the median) or a tail
# (p99 over p50) more than 1.5x the median.
MAX_SPREAD = 0.10
MAX_TAIL = 1.5


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/mean/std/min/max (ms) of per-iteration latencies.

    Percentiles interpolate linearly between samples (numpy's default), so a run of three
    iterations still gives a p99 (close to its max). ``std`` is the population standard
    deviation (0 for a single sample).

    Raises:
        ValueError: no samples.
    """
    if not samples_ms:
        raise ValueError("no latency samples")
    a = np.asarray(samples_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(a.mean()),
            "std": float(a.std()), "min": float(a.min()), "max": float(a.max())}


def variation(stats: Mapping[str, float]) -> dict[str, float]:
    """Spread (std / median) and tail (p99 / p50) of a latency summary."""
    p50 = stats["p50"]
    if p50 <= 0:
        return {"spread": 0.0, "tail": 1.0}
    return {"spread": stats["std"] / p50, "tail": stats["p99"] / p50}


def variation_warning(stats: Mapping[str, float], iters: int, threads: int = 0) -> str | None:
    """A one-line warning when run-to-run variation is high, else ``None``.

    Fewer than 5 timed iterations give no reliable spread, so they get a warning of their own.
    """
    if iters < 5:
        return (f"only {iters} timed iteration{'s' * (iters != 1)}: the percentiles are rough; "
                "use --iters 20 or more (or --seconds) for stable numbers")
    v = variation(stats)
    if v["spread"] <= MAX_SPREAD and v["tail"] <= MAX_TAIL:
        return None
    pin = "pin the thread count (--threads N) and " if not threads else ""
    return (f"run-to-run variation is high (std/median {v['spread']:.2f}, p99/p50 {v['tail']:.2f}): "
            f"{pin}close other work on this machine, then rerun with more --iters or --seconds")


def stage_means(stages: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean milliseconds of each stage a backend reported, in pipeline order.

    A stage enters the result only if every iteration reported it, so a mean never mixes
    iterations that timed it with iterations that did not.
    """
    rows = list(stages)
    if not rows:
        return {}
    keys = [k for k in STAGES if all(k in r for r in rows)]
    keys += sorted(k for k in rows[0] if k not in STAGES and all(k in r for r in rows))
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def round_floats(value: object, digits: int = 4) -> object:
    """Round every float in a nested dict/list (JSON output stays readable); NaN becomes ``None``."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v, digits) for v in value]
    return value
