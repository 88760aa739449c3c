"""Parity of exported graphs against the PyTorch FP32 model on real pairs, in image space.

Per artefact: max/mean abs error of the float output, PSNR and SSIM of the 8-bit fused image
against the PyTorch one, and the change in VIF and Qabf (edgefuse.metrics) that a user of the
fused image would see. Gates (``GATES``) mark each artefact passed or failed. The numbers come
from ``edgefuse.runtime.compare``, as those of ``edgefuse bench --data`` and of the INT8 search.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgefuse.data.pairs import LoadedPair, load_spread
from edgefuse.errors import DataError
from edgefuse.export._ort import run, session
from edgefuse.config_types import Size
from edgefuse.resources import sample_dir
from edgefuse.runtime.compare import Comparison, Fuser, Score, compare

DEFAULT_SAMPLES = "ivf"  # the bundled sample set (edgefuse/assets/samples/ivf) when no folder is given
# (key, comparison, threshold) per precision: FP32 must match the model; reduced precision on PSNR.
GATES: dict[str, tuple[str, str, float]] = {
    "fp32": ("max_abs_err", "<=", 1e-4),
    "fp16": ("psnr_db", ">=", 40.0),
    "int8": ("psnr_db", ">=", 30.0),
    "int8_fp16": ("psnr_db", ">=", 30.0),  # the FP16 Q/DQ graph (FP16 outside the Q/DQ pairs)
}
NR_METRICS = ("VIF", "Qabf")

Group = tuple[Path, Sequence[LoadedPair]]


def load_parity_pairs(folder: str | os.PathLike[str] | None, count: int, size: Size) -> tuple[Path, list[LoadedPair]]:
    """``count`` pairs spread evenly over ``folder`` (default: the bundled samples), resized to ``size``."""
    if not folder:
        with sample_dir(DEFAULT_SAMPLES) as root:  # read while a zipped install's copy exists
            return root, _load_pairs(root, count, size)
    root = Path(folder)
    return root, _load_pairs(root, count, size)


def _load_pairs(root: Path, count: int, size: Size) -> list[LoadedPair]:
    out = load_spread(root, count, size)
    if not out:
        raise DataError(f"no parity pairs in {root}")
    return out


def torch_fuser(model: nn.Module) -> Fuser:
    """The PyTorch FP32 model on the CPU as a ``compare`` fuser."""
    model = model.eval().float().cpu()

    def fuse(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(vis), torch.from_numpy(ir)).numpy()

    return fuse


def session_fuser(sess: Any) -> Fuser:
    """An ONNX Runtime session (inputs ``vis`` and ``ir``) as a ``compare`` fuser."""
    return lambda vis, ir: run(sess, {"vis": vis, "ir": ir})


def add_reference(model: nn.Module, groups: Sequence[Group]) -> Comparison:
    """The PyTorch FP32 outputs (and their VIF/Qabf) for every pair of ``groups``, in order, for ``measure``."""
    return compare(torch_fuser(model), {}, [p for _, pairs in groups for p in pairs], NR_METRICS)


def _aggregate(score: Score, precision: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "pairs": len(score.pairs), "names": score.names, "finite": score.finite,
        "max_abs_err": score.max_abs_err, "mean_abs_err": score.mean_abs_err,
        "psnr_db": score.psnr_db, "psnr_db_min": score.psnr_db_min, "ssim": score.ssim,
    }
    ref, got = score.reference_metrics, score.metrics
    for k in NR_METRICS:
        res[f"{k}_torch"], res[k], res[f"delta_{k}"] = ref[k], got[k], got[k] - ref[k]
    key, op, threshold = GATES[precision]
    value = res[key]
    res["gate"] = f"{key} {op} {threshold:g}"
    res["passed"] = res["finite"] and (value <= threshold if op == "<=" else value >= threshold)
    return res


def measure(
    path: str | os.PathLike[str], groups: Sequence[Group], precision: str, reference: Comparison, threads: int = 0,
) -> dict[str, Any]:
    """Run ``path`` in ONNX Runtime (CPU) on every group of pairs and compare with ``reference`` (``add_reference``).

    Returns the pooled result (its ``passed`` also needs every data set to pass) with the
    per-folder results under ``by_data``.
    """
    sess = session(path, threads=threads, qdq_fusions=precision != "int8_fp16")  # FP16 scales: no ORT fusions
    pooled = compare(reference, {precision: session_fuser(sess)}, [p for _, pairs in groups for p in pairs],
                     NR_METRICS)[precision]
    by_data, start = {}, 0
    for root, pairs in groups:
        by_data[str(root)] = _aggregate(Score(pooled.pairs[start:start + len(pairs)]), precision)
        start += len(pairs)
    res = _aggregate(pooled, precision)
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
