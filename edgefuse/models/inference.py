"""Fusing numpy images with a checkpoint in PyTorch (teachers get their text prior here too)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from edgefuse.data.images import u8_from_float
from edgefuse.models.checkpoint import load_checkpoint


class TextPrior:
    """The text prior of a text-guided teacher for one pair, as during its training.

    Annotates the pair with the rule-based annotator and encodes the DTPF prompt with the
    text encoder named in the checkpoint's card.
    """

    def __init__(self, card: dict, device: torch.device | str = "cpu") -> None:
        from edgefuse.text import RuleAnnotator
        from edgefuse.train.text_setup import PromptBank

        training = card.get("training", {})
        self.task = training.get("task", "ivf")
        self.device = torch.device(device)
        self._annotator = RuleAnnotator()
        cache = Path.home() / ".cache" / "edgefuse" / "text"
        self._prompts = PromptBank(training.get("text_encoder", "minilm"), self.task, cache)

    def __call__(self, vis: np.ndarray, ir: np.ndarray) -> torch.Tensor:
        """(1, text_dim) embedding for an HxWx3 uint8 visible and HxW uint8 IR image."""
        from edgefuse.data.pairs import LoadedPair

        ann = self._annotator.annotate(LoadedPair("pair", ir, vis), self.task)
        return self._prompts.batch([tuple(ann.events)]).to(self.device)


class ModelFuser:
    """Callable ``(vis_rgb_u8, ir_u8) -> fused_rgb_u8`` backed by a trained checkpoint.

    A text-guided teacher gets its text prior from ``TextPrior``.
    """

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        self.path = Path(path)
        self.model, self.card = load_checkpoint(self.path)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.text_dim = getattr(self.model, "text_dim", None)
        self._prior = TextPrior(self.card, self.device) if self.text_dim else None

    @torch.no_grad()
    def __call__(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        v = torch.from_numpy(np.ascontiguousarray(vis.transpose(2, 0, 1))).float().div(255.0)[None]
        i = torch.from_numpy(np.ascontiguousarray(ir)).float().div(255.0)[None, None]
        text = self._prior(vis, ir) if self._prior is not None else None
        v, i = v.to(self.device), i.to(self.device)
        out = self.model(v, i, text) if text is not None else self.model(v, i)
        return u8_from_float(out[0].float().cpu().numpy().transpose(1, 2, 0))
