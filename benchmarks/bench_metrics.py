"""Single-core timing of every fusion metric on one real 640x480 pair.

Usage (from the repository root, venv active; the thread variables pin numpy/BLAS to one core):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_metrics.py [--data DIR] [--name FILE]

The pair is read as the metrics expect (PAPER_SPEC section 4): IR and visible files decoded with
OpenCV, BGR turned into RGB, then ``grey_from_rgb``. The "fused" image is the rounded average of the
two grey sources, i.e. what an 8-bit average-fusion result would hold. Each metric is timed as the
median of ``--repeats`` calls after one warm-up call, OpenCV limited to one thread. Writes
``benchmarks/results/metrics_timing.csv`` and ``.md`` (CPU model, date, per-metric values).
"""

from __future__ import annotations

import os

# Before numpy / OpenCV import: one core. Explicit user settings win (setdefault).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edgefuse.metrics import DEFAULT_METRICS, METRICS, evaluate_grey, grey_from_rgb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "msrs" / "test"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "metrics_timing"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ir/ + vi/ folder (default: %(default)s)")
    p.add_argument("--name", default=None, help="pair file name (default: the first in ir/, sorted)")
    p.add_argument("--repeats", type=int, default=11, help="timed calls per metric (default: %(default)s)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output path without suffix")
    return p.parse_args(argv)


def read_rgb_or_grey(path: Path) -> np.ndarray:
    """Decode an image file as stored: grey stays 2-D, colour becomes RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else img


def load_pair(folder: Path, name: str | None) -> tuple[str, np.ndarray, np.ndarray]:
    """Grey IR and grey visible images of one pair in ``folder``."""
    if not (folder / "ir").is_dir() or not (folder / "vi").is_dir():
        raise SystemExit(f"{folder} needs ir/ and vi/ subfolders (use --data)")
    name = name or sorted(p.name for p in (folder / "ir").iterdir())[0]
    ir = grey_from_rgb(read_rgb_or_grey(folder / "ir" / name))
    vis = grey_from_rgb(read_rgb_or_grey(folder / "vi" / name))
    return name, ir, vis


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def cpu_model() -> str:
    """CPU model from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_results(out: Path, rows: list[dict[str, object]], meta: dict[str, str]) -> None:
    """Write ``out``.csv (one row per metric plus the totals) and ``out``.md."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["metric", "median_ms", "value"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Fusion metric timing (one core)",
        "",
        *(f"- {k}: {v}" for k, v in meta.items()),
        "",
        "| metric | median ms | value |",
        "|---|---:|---:|",
        *(f"| {r['metric']} | {r['median_ms']} | {r['value']} |" for r in rows),
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Time the metrics, print the table and write the result files."""
    args = parse_args(argv)
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"
    cv2.setNumThreads(1)
    name, ir, vis = load_pair(args.data, args.name)
    fused = np.round((ir + vis) / 2.0)
    values = evaluate_grey(fused, ir, vis)
    rows: list[dict[str, object]] = []
    for metric in DEFAULT_METRICS:
        info = METRICS.get(metric)
        ms = median_ms(lambda info=info: info(fused, ir, vis), args.repeats)
        rows.append({"metric": metric, "median_ms": f"{ms:.2f}", "value": f"{values[metric]:.6g}"})
    sum_ms = sum(float(r["median_ms"]) for r in rows)
    total_ms = median_ms(lambda: evaluate_grey(fused, ir, vis), args.repeats)
    rows.append({"metric": "sum of medians", "median_ms": f"{sum_ms:.2f}", "value": ""})
    rows.append({"metric": "evaluate_grey (all 13)", "median_ms": f"{total_ms:.2f}", "value": ""})
    meta = {
        "pair": f"{args.data / 'ir' / name} + vi/{name}, {ir.shape[1]}x{ir.shape[0]}",
        "fused": "np.round((grey IR + grey visible) / 2), grey via grey_from_rgb",
        "CPU": f"{cpu_model()} ({os.cpu_count()} logical CPUs visible; run on one thread)",
        "threads": "cv2.setNumThreads(1), OMP_NUM_THREADS="
        f"{os.environ['OMP_NUM_THREADS']}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}",
        "load average (1 min) at start; well above 0 = other processes competed for the CPUs": load,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "software": f"Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}",
        "method": f"median of {args.repeats} calls after one warm-up, time.perf_counter",
        "command": "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_metrics.py",
    }
    write_results(args.out, rows, meta)
    print("\n".join(f"{r['metric']:24s} {r['median_ms']:>9s} ms  {r['value']}" for r in rows))
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
