"""Fusing numpy images with a checkpoint in PyTorch (teachers get their text prior here too)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from edgefuse.data.images import u8_from_float
from edgefuse.models.checkpoint import load_checkpoint


class ModelFuser:
    """Callable ``(vis_rgb_u8, ir_u8) -> fused_rgb_u8`` backed by a trained checkpoint.

    A text-guided teacher annotates each pair with the rule-based annotator and encodes the
    DTPF prompt with the text encoder recorded in its card, as during training.
    """

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        self.path = Path(path)
        self.model, self.card = load_checkpoint(self.path)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.text_dim = getattr(self.model, "text_dim", None)
        self._annotator = None
        self._prompts = None
        if self.text_dim:
            self._setup_text()

    def _setup_text(self) -> None:
        from edgefuse.text import RuleAnnotator
        from edgefuse.train.text_setup import PromptBank

        training = self.card.get("training", {})
        self.task = training.get("task", "ivf")
        self._annotator = RuleAnnotator()
        cache = Path.home() / ".cache" / "edgefuse" / "text"
        self._prompts = PromptBank(training.get("text_encoder", "minilm"), self.task, cache)

    def _text(self, vis: np.ndarray, ir: np.ndarray) -> torch.Tensor | None:
        if self._annotator is None:
            return None
        from edgefuse.data.pairs import LoadedPair

        ann = self._annotator.annotate(LoadedPair("pair", ir, vis), self.task)
        return self._prompts.batch([tuple(ann.events)]).to(self.device)  # type: ignore[union-attr]

    @torch.no_grad()
    def __call__(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        v = torch.from_numpy(np.ascontiguousarray(vis.transpose(2, 0, 1))).float().div(255.0)[None]
        i = torch.from_numpy(np.ascontiguousarray(ir)).float().div(255.0)[None, None]
        text = self._text(vis, ir)
        v, i = v.to(self.device), i.to(self.device)
        out = self.model(v, i, text) if text is not None else self.model(v, i)
        return u8_from_float(out[0].float().cpu().numpy().transpose(1, 2, 0))
