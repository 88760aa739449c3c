"""Text reports and JSON files of benchmark results.

The text layout borrows trtexec's "=== Performance summary ===" (Throughput, then Latency and
the H2D / GPU compute / D2H split with min, max, mean, median and percentiles; NVIDIA/TensorRT
``samples/common/sampleReporting.cpp``) and adds what an image-fusion user needs beside it:
pre/post-processing stages, host and device memory, and accuracy against the FP32 model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgefuse.bench.stats import round_floats
from edgefuse.files import ensure_writable_dir, write_json_atomic

STAGE_NAMES = {"pre": "pre-process", "h2d": "host-to-device", "compute": "compute", "d2h": "device-to-host",
               "post": "post-process"}


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} MiB"


def format_report(r: dict[str, Any]) -> str:
    """A trtexec-style summary of one result (``benchmark``'s dict)."""
    lat = r["latency_ms"]
    versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v)
    fed = r["input"]["fed_shape"]
    fed_note = "" if fed[2:] == [r["height"], r["width"]] else f" (padded to {fed[2]}x{fed[3]} by the size rule)"
    lines = [
        f"=== edgefuse bench: {r['artefact']} ===",
        f"Backend     {r['backend']} on {r['device']} ({r['device_name']}), precision {r['precision']}, "
        f"threads {r['threads'] or 'default'}",
        f"Versions    {versions}",
        f"Input       {r['input']['source']}, batch {r['batch']}, {r['height']}x{r['width']}{fed_note}",
        f"Runs        {r['warmup']} warm-up, {r['iters']} timed in {r['wall_s']:.2f} s",
        f"Throughput  {r['throughput_fps']:.2f} pairs/s",
        f"Latency     p50 = {lat['p50']:.3f} ms, p90 = {lat['p90']:.3f} ms, p99 = {lat['p99']:.3f} ms, "
        f"mean = {lat['mean']:.3f} ms, std = {lat['std']:.3f} ms, min = {lat['min']:.3f} ms, max = {lat['max']:.3f} ms",
    ]
    if r["stages_ms"]:
        total = sum(r["stages_ms"].values()) or 1.0
        parts = [f"{STAGE_NAMES.get(k, k)} {v:.3f} ms ({100 * v / total:.0f}%)" for k, v in r["stages_ms"].items()]
        lines.append("Stages      " + " | ".join(parts) + "  (mean per call)")
    lines.append(f"Memory      peak host RSS {_mb(r['peak_rss_mb'])} (process), peak device {_mb(r['peak_device_mb'])}")
    if "accuracy" in r:
        lines.append("Accuracy    " + format_accuracy(r["accuracy"]))
    lines += [f"warning: {w}" for w in r["warnings"]]
    return "\n".join(lines)


def format_accuracy(a: dict[str, Any]) -> str:
    if not a.get("available"):
        return f"unavailable: {a['reason']}"
    return (f"vs {a['reference']} on {a['pairs']} pair{'s' * (a['pairs'] != 1)} of {a['data']}: "
            f"PSNR {a['psnr_db_mean']:.2f} dB (min {a['psnr_db_min']:.2f}), "
            f"SSIM {a['ssim_mean']:.4f} (min {a['ssim_min']:.4f})")


def format_compare(report: dict[str, Any]) -> str:
    """One table of a ``run_compare`` report, with speed-ups of p50 latency against the first entry."""
    results = report["results"]
    with_acc = any("accuracy" in r for r in results)
    head = ["artefact", "backend", "precision", "p50 ms", "p90 ms", "p99 ms", "pairs/s", "speed-up"]
    if with_acc:
        head += ["PSNR dB", "SSIM"]
    rows = []
    for r, s in zip(results, report["speedup"]):
        lat = r["latency_ms"]
        row = [str(r["name"]), r["backend"], r["precision"], f"{lat['p50']:.2f}", f"{lat['p90']:.2f}",
               f"{lat['p99']:.2f}", f"{r['throughput_fps']:.2f}", f"{s:.2f}x"]
        if with_acc:
            a = r.get("accuracy") or {}
            row += ([f"{a['psnr_db_mean']:.2f}", f"{a['ssim_mean']:.4f}"] if a.get("available") else ["n/a", "n/a"])
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    first = results[0]
    title = (f"{first['height']}x{first['width']}, batch {first['batch']}, {first['iters']} timed iterations each; "
             f"speed-up = p50 of {report['baseline']} / p50")
    out = [title, "  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    warns = [f"warning: {r['name']}: {w}" for r in results for w in r["warnings"]]
    return "\n".join(out + warns)


def write_json(doc: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a result (or compare report) as JSON, floats rounded to 4 decimals; atomic."""
    out = Path(path)
    ensure_writable_dir(out.parent, "JSON output folder")
    return write_json_atomic(out, round_floats(doc))  # type: ignore[arg-type]


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
