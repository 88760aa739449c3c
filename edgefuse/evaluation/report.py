"""Evaluation reports: terminal table, per-image CSV, means JSON and a picture grid."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import cv2
import numpy as np

from edgefuse.data.images import write_bytes_atomic, write_image
from edgefuse.evaluation.runner import EvalResult
from edgefuse.metrics.registry import METRICS

GRID_TILE_HEIGHT = 240


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2f}" if abs(x) >= 10 else f"{x:.4f}"


def format_table(result: EvalResult) -> str:
    """Metrics as rows, compared entries as columns: ``mean ± std``; '*' marks the best."""
    means, stds = result.means(), result.stds()
    header = ["metric", *result.labels]
    lines = []
    for m in result.metric_names:
        info = METRICS.get(m)
        pick = max if info.higher_is_better else min
        best = pick(means[lb][m] for lb in result.labels) if len(result.labels) > 1 else None
        cells = [f"{m} {'↑' if info.higher_is_better else '↓'}"]
        for lb in result.labels:
            star = "*" if best is not None and means[lb][m] == best else " "
            cells.append(f"{_fmt(means[lb][m])} ± {_fmt(stds[lb][m])}{star}")
        lines.append(cells)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines]
    n = len(result.rows) // max(len(result.labels), 1)
    out.append(f"{n} pairs from {result.data}; mean ± std (population); * = best of the compared entries")
    if result.groups():
        out.append(f"scored against the clean sources in {result.reference}")
        out += ["", format_group_table(result)]
    return "\n".join(out)


GROUP_METRICS = ("VIF", "Qabf", "SSIM", "PSNR", "MI")


def format_group_table(result: EvalResult, metrics: tuple[str, ...] = GROUP_METRICS) -> str:
    """Full-reference evaluations: one row per degradation type (and their mean), ``a / b`` per entry."""
    shown = [m for m in metrics if m in result.metric_names] or result.metric_names[:2]
    by_type = result.group_means()
    header = ["type", *result.labels]
    lines = []
    for g in [*by_type, "mean over types"]:
        cells = [g]
        for lb in result.labels:
            if g in by_type:
                vals = [by_type[g][lb][m] for m in shown]
            else:
                vals = [float(np.mean([by_type[t][lb][m] for t in by_type])) for m in shown]
            cells.append(" / ".join(_fmt(v) for v in vals))
        lines.append(cells)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    out = [f"per degradation type: {' / '.join(shown)} against the clean sources"]
    out.append("  ".join(c.ljust(w) for c, w in zip(header, widths)))
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines]
    return "\n".join(out)


def write_csv(result: EvalResult, path: str | os.PathLike[str]) -> Path:
    """One row per image and entry: ``method,image,<metrics...>``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    tags = ["type", "severity"] if result.groups() else []
    writer.writerow(["method", "image", *tags, *result.metric_names])
    for row in result.rows:
        writer.writerow([row["method"], row["image"], *(row[t] for t in tags),
                         *(f"{row[m]:.6g}" for m in result.metric_names)])
    p = Path(path)
    write_bytes_atomic(p, buf.getvalue().encode())
    return p


def write_json(result: EvalResult, path: str | os.PathLike[str]) -> Path:
    """Means and standard deviations per entry, with the metric directions."""
    doc = {
        "data": str(result.data),
        "pairs": len(result.rows) // max(len(result.labels), 1),
        "higher_is_better": {m: METRICS.get(m).higher_is_better for m in result.metric_names},
        "mean": result.means(),
        "std": result.stds(),
    }
    if result.groups():
        doc["reference"] = str(result.reference)
        doc["per_type"] = result.group_means()
    p = Path(path)
    write_bytes_atomic(p, (json.dumps(doc, indent=2) + "\n").encode())
    return p


def _tile(img: np.ndarray, label: str | None) -> np.ndarray:
    rgb = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img
    h, w = rgb.shape[:2]
    tile = cv2.resize(rgb, (max(1, round(w * GRID_TILE_HEIGHT / h)), GRID_TILE_HEIGHT), interpolation=cv2.INTER_AREA)
    if label:
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 22), (0, 0, 0), thickness=-1)
        cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def write_grid(result: EvalResult, path: str | os.PathLike[str]) -> Path:
    """A PNG with one row per kept pair: IR | visible | each compared entry."""
    if not result.samples:
        raise ValueError("no samples kept; call evaluate_dataset(keep_samples=N) with N > 0")
    rows = []
    for loaded, outputs in result.samples:
        tiles = [_tile(loaded.ir, f"IR {loaded.name}"), _tile(loaded.vis, "visible")]
        tiles += [_tile(outputs[lb], lb) for lb in result.labels]
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return write_image(path, np.concatenate(rows, axis=0))
