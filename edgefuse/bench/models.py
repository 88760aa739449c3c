"""Models as the benchmark scripts time them: weights by name, and the text-guided teacher with a fixed text.

The DTPF teacher takes ``(vis, ir, text)``; its text comes from a sentence encoder at run time,
which is not part of the fusion network's cost and cannot be exported with it. For timing, it is
wrapped in :class:`edgefuse.text.conditioning.FixedTextTeacher` (one random text embedding fed on
every call), which gives it the ``(vis, ir) -> fused`` signature of every other model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from edgefuse.text.conditioning import FixedTextTeacher

logger = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "weights"


def bench_model(arch: str, seed: int = 0) -> tuple[nn.Module, str]:
    """The ``arch`` model the benchmark matrix times, and where its weights came from.

    Shipped weights (``edgefuse/assets/models/<arch>_ivf.safetensors``) first, then trained
    weights recorded in ``benchmarks/results/weights/`` (``<arch>_*.safetensors``), else random
    weights (seeded), which time the same as trained ones. Text-guided teachers come wrapped in
    ``FixedTextTeacher``.
    """
    from edgefuse.fusion import shipped_models
    from edgefuse.models import create_model
    from edgefuse.models.checkpoint import load_checkpoint

    candidates = [p for name, p in shipped_models().items() if name.startswith(f"{arch}_")]
    if WEIGHTS_DIR.is_dir():
        candidates += sorted(WEIGHTS_DIR.glob(f"{arch}_*.safetensors"))
    for path in candidates:
        model, card = load_checkpoint(path)
        if card.get("architecture") == arch:
            return _wrap(model.eval(), seed), f"trained ({path.name})"
    torch.manual_seed(seed)
    return _wrap(create_model(arch).eval(), seed), "random (no trained weights here; timing only)"


def _wrap(model: nn.Module, seed: int) -> nn.Module:
    return FixedTextTeacher(model, seed) if getattr(model, "text_dim", None) else model
