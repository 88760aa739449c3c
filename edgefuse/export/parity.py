"""Parity of exported graphs against the PyTorch FP32 model on real pairs, in image space.

Per artefact: max/mean abs error of the float output, PSNR and SSIM of the 8-bit fused image
against the PyTorch one, and the change in VIF and Qabf (edgefuse.metrics) that a user of the
fused image would see. Gates (``GATES``) mark each artefact passed or failed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.errors import DataError
from edgefuse.export._ort import run, session
from edgefuse.export.calibration import resize_pair, to_feeds
from edgefuse.export.config import Size
from edgefuse.export.metrics import psnr_u8, ssim_u8, u8_hwc
from edgefuse.metrics.registry import evaluate_rgb
from edgefuse.resources import sample_dir

DEFAULT_SAMPLES = "ivf"  # the bundled sample set (edgefuse/assets/samples/ivf) when no folder is given
# (key, comparison, threshold) per precision: FP32 must match the model; reduced precision on PSNR.
GATES: dict[str, tuple[str, str, float]] = {
    "fp32": ("max_abs_err", "<=", 1e-4),
    "fp16": ("psnr_db", ">=", 40.0),
    "int8": ("psnr_db", ">=", 30.0),
    "int8_fp16": ("psnr_db", ">=", 30.0),  # the FP16 Q/DQ graph (FP16 outside the Q/DQ pairs)
}
NR_METRICS = ("VIF", "Qabf")


@dataclass
class ParityPair:
    """A real pair resized to the export size, and the PyTorch FP32 fused image for it."""

    name: str
    vis: np.ndarray
    ir: np.ndarray
    reference: np.ndarray | None = None
    reference_metrics: dict[str, float] | None = None

    @property
    def feeds(self) -> dict[str, np.ndarray]:
        return to_feeds(self.vis, self.ir)


def load_parity_pairs(folder: str | os.PathLike[str] | None, count: int, size: Size) -> tuple[Path, list[ParityPair]]:
    """``count`` pairs spread evenly over ``folder`` (default: the bundled samples), resized to ``size``."""
    if not folder:
        with sample_dir(DEFAULT_SAMPLES) as root:  # read while a zipped install's copy exists
            return root, _load_pairs(root, count, size)
    root = Path(folder)
    return root, _load_pairs(root, count, size)


def _load_pairs(root: Path, count: int, size: Size) -> list[ParityPair]:
    found = find_pairs(root)
    picks = sorted({int(round(i)) for i in np.linspace(0, len(found) - 1, min(count, len(found)))}) if found else []
    out = []
    for pair in (found[i] for i in picks):
        loaded = load_pair(pair)
        vis, ir = resize_pair(loaded.vis, loaded.ir, size)
        out.append(ParityPair(pair.name, vis, ir))
    if not out:
        raise DataError(f"no parity pairs in {root}")
    return out


def add_reference(model: nn.Module, pairs: Sequence[ParityPair]) -> None:
    """Fill in the PyTorch FP32 output (and its VIF/Qabf) for each pair."""
    model = model.eval().float().cpu()
    with torch.no_grad():
        for p in pairs:
            f = p.feeds
            p.reference = model(torch.from_numpy(f["vis"]), torch.from_numpy(f["ir"])).numpy()
            p.reference_metrics = evaluate_rgb(u8_hwc(p.reference), p.ir, p.vis, NR_METRICS)


def _rows(sess: Any, pairs: Sequence[ParityPair]) -> list[dict[str, Any]]:
    rows = []
    for p in pairs:
        if p.reference is None or p.reference_metrics is None:
            raise ValueError("call add_reference() before measure()")
        out = run(sess, p.feeds)
        fused, ref_u8 = u8_hwc(out), u8_hwc(p.reference)
        m = evaluate_rgb(fused, p.ir, p.vis, NR_METRICS)
        rows.append({
            "name": p.name,
            "finite": bool(np.isfinite(out).all()),
            "max_abs_err": float(np.abs(out - p.reference).max()),
            "mean_abs_err": float(np.abs(out - p.reference).mean()),
            "psnr_db": psnr_u8(fused, ref_u8),
            "ssim": ssim_u8(fused, ref_u8),
            **{f"{k}_ref": p.reference_metrics[k] for k in NR_METRICS},
            **{k: m[k] for k in NR_METRICS},
        })
    return rows


def _aggregate(rows: list[dict[str, Any]], precision: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "pairs": len(rows),
        "names": [r["name"] for r in rows],
        "finite": all(r["finite"] for r in rows),
        "max_abs_err": max(r["max_abs_err"] for r in rows),
        "mean_abs_err": float(np.mean([r["mean_abs_err"] for r in rows])),
        "psnr_db": float(np.mean([r["psnr_db"] for r in rows])),
        "psnr_db_min": float(min(r["psnr_db"] for r in rows)),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
    }
    for k in NR_METRICS:
        ref, got = float(np.mean([r[f"{k}_ref"] for r in rows])), float(np.mean([r[k] for r in rows]))
        res[f"{k}_torch"], res[k], res[f"delta_{k}"] = ref, got, got - ref
    key, op, threshold = GATES[precision]
    value = res[key]
    res["gate"] = f"{key} {op} {threshold:g}"
    res["passed"] = res["finite"] and (value <= threshold if op == "<=" else value >= threshold)
    return res


def measure(
    path: str | os.PathLike[str], groups: Sequence[tuple[Path, Sequence[ParityPair]]], precision: str, threads: int = 0,
) -> dict[str, Any]:
    """Run ``path`` in ONNX Runtime (CPU) on every group of pairs and compare with the references.

    Returns the pooled result (its ``passed`` also needs every data set to pass) with the
    per-folder results under ``by_data``.
    """
    sess = session(path, threads=threads, qdq_fusions=precision != "int8_fp16")  # FP16 scales: no ORT fusions
    by_data, rows = {}, []
    for root, pairs in groups:
        group = _rows(sess, pairs)
        by_data[str(root)] = _aggregate(group, precision)
        rows += group
    res = _aggregate(rows, precision)
    res["passed"] = res["passed"] and all(r["passed"] for r in by_data.values())
    res["by_data"] = by_data
    return res


def summary(precision: str, res: dict[str, Any]) -> str:
    """'fp16 PSNR 52.1 dB SSIM 0.9998 dVIF -0.001 dQabf +0.000 ok' style text."""
    status = "ok" if res["passed"] else f"FAILED ({res['gate']})"
    if precision == "fp32":
        head = f"max|d| {res['max_abs_err']:.1e}"
    else:
        worst = min(r["psnr_db"] for r in res.get("by_data", {"": res}).values())
        several = len(res.get("by_data", {})) > 1
        head = f"PSNR {res['psnr_db']:.1f} dB" + (f" (worst set {worst:.1f})" if several else "")
    return (f"{precision} {head} SSIM {res['ssim']:.4f} dVIF {res['delta_VIF']:+.3f} "
            f"dQabf {res['delta_Qabf']:+.3f} {status}")
