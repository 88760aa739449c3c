"""Validation during training: fuse held-out pairs whole and score them with edgefuse.metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from edgefuse.data.images import u8_from_float
from edgefuse.metrics.registry import evaluate_rgb

VAL_METRICS = ("EN", "SD", "VIF", "Qabf", "SSIM")


def quality_score(m: dict[str, float]) -> float:
    """DTPF's checkpoint-selection score (PAPER_SPEC 2.3): (SSIM + VIF + SD/45 + Qabf/0.70 + EN/6.75)/5."""
    return (m["SSIM"] + m["VIF"] + m["SD"] / 45 + m["Qabf"] / 0.70 + m["EN"] / 6.75) / 5


def u8_image(t: torch.Tensor) -> np.ndarray:
    """One (C, H, W) tensor in [0, 1] as the uint8 image (HxWx3 or HxW) the metrics score."""
    arr = t.detach().float().cpu().numpy()
    return u8_from_float(arr.transpose(1, 2, 0) if arr.shape[0] == 3 else arr[0])


@torch.no_grad()
def validate(
    model: nn.Module, dataset: Dataset, max_pairs: int,
    text_fn: Callable[[Sequence[str]], torch.Tensor] | None = None,
    metrics: Sequence[str] = VAL_METRICS,
) -> dict[str, float]:
    """Mean metrics (and ``quality``) of ``model`` over up to ``max_pairs`` whole pairs."""
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for i in range(min(max_pairs, len(dataset))):  # type: ignore[arg-type]
        item = dataset[i]
        vis, ir = item["vis"][None].to(device), item["ir"][None].to(device)
        text = text_fn(item["events"]).to(device) if text_fn is not None else None
        fused = model(vis, ir, text) if text is not None else model(vis, ir)
        rows.append(evaluate_rgb(u8_image(fused[0]), u8_image(item["ir"]), u8_image(item["vis"]), list(metrics)))
    if not rows:
        return {}
    means = {m: float(np.mean([r[m] for r in rows])) for m in metrics}
    if all(k in means for k in ("SSIM", "VIF", "SD", "Qabf", "EN")):
        means["quality"] = quality_score(means)
    return means
