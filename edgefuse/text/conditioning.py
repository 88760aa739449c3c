"""Text conditioning of text-guided teachers: the inference text prior and a fixed-text wrapper.

A text-guided teacher (``text_dim`` set) takes ``(vis, ir, text)``. Its text comes from outside
the fusion network, either

* :class:`TextPrior`: the prior it was trained with, for one pair (rule-based annotation plus
  the DTPF prompt encoded by the text encoder named in the checkpoint's card; used by the torch
  backend and the ablation scripts), or
* :class:`PriorTextTeacher`: a teacher with its :class:`TextPrior` inside, ``forward(vis, ir)``:
  what every backend runs for a trained teacher (``edgefuse.runtime`` loads it so), or
* :class:`FixedTextTeacher`: one fixed random embedding held as a buffer, so that the teacher
  has the ``(vis, ir) -> fused`` signature of every other model: it runs through the torch
  backend unchanged and exports to ONNX with the embedding folded in as a constant. That is a
  timing and export device only (its fused images mean nothing without a real caption); the
  sentence encoder is not part of the fusion network's cost and cannot be exported with it.

Neither is imported by :mod:`edgefuse.models`, which holds the networks only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


class TextPrior:
    """The text prior of a text-guided teacher for one pair, as during its training.

    Annotates the pair with the rule-based annotator and encodes the DTPF prompt with the
    text encoder named in the checkpoint's card.
    """

    def __init__(self, card: dict, device: torch.device | str = "cpu") -> None:
        from edgefuse.text import RuleAnnotator
        from edgefuse.text.priors import PromptBank

        training = card.get("training", {})
        self.task = training.get("task", "ivf")
        self.device = torch.device(device)
        self._annotator = RuleAnnotator()
        cache = Path.home() / ".cache" / "edgefuse" / "text"
        self._prompts = PromptBank(training.get("text_encoder", "minilm"), self.task, cache,
                                   training.get("text_weights"))
        self.events: tuple[str, ...] | None = None  # fixed events instead of the annotator (ablations)

    def __call__(self, vis: np.ndarray, ir: np.ndarray) -> torch.Tensor:
        """(1, text_dim) embedding for an HxWx3 uint8 visible and HxW uint8 IR image."""
        from edgefuse.data.pairs import LoadedPair

        if self.events is not None:
            return self._prompts.batch([tuple(self.events)]).to(self.device)
        ann = self._annotator.annotate(LoadedPair("pair", ir, vis), self.task)
        return self._prompts.batch([tuple(ann.events)]).to(self.device)


class FixedTextTeacher(nn.Module):
    """A text-guided teacher with one fixed text embedding: ``forward(vis, ir)``.

    Args:
        teacher: A fusion model whose ``forward(vis, ir, text)`` takes ``text`` of shape
            (N, ``text_dim``).
        seed: Seed of the random unit-norm embedding.
    """

    def __init__(self, teacher: nn.Module, seed: int = 0) -> None:
        super().__init__()
        text_dim = int(teacher.text_dim)
        gen = torch.Generator().manual_seed(seed)
        emb = torch.randn(1, text_dim, generator=gen)
        self.teacher = teacher
        self.register_buffer("text", emb / emb.norm(dim=1, keepdim=True))
        self.size_multiple = int(teacher.size_multiple or 1)

    def forward(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.teacher(vis, ir, self.text.expand(vis.shape[0], -1))


class PriorTextTeacher(nn.Module):
    """A trained text-guided teacher that computes its own text prior per pair: ``forward(vis, ir)``.

    Each pair of the batch is turned into uint8 images (the package's one rounding rule,
    :func:`edgefuse.data.images.u8_from_float`), annotated and encoded by :class:`TextPrior`, and
    the teacher is called with those embeddings. Not exportable (the annotator runs on the host);
    ONNX exports of a teacher use :class:`FixedTextTeacher`.

    Args:
        teacher: The fusion model, ``forward(vis, ir, text)``.
        card: Its checkpoint card (names the text encoder and the task).
    """

    def __init__(self, teacher: nn.Module, card: dict) -> None:
        super().__init__()
        self.teacher = teacher
        self.prior = TextPrior(card)
        self.size_multiple = int(teacher.size_multiple or 1)

    def forward(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        from edgefuse.data.images import u8_from_float

        rows = []
        for v, i in zip(vis.detach().float().cpu().numpy(), ir.detach().float().cpu().numpy()):
            rows.append(self.prior(u8_from_float(v.transpose(1, 2, 0)), u8_from_float(i[0])))
        text = torch.cat(rows, 0).to(device=vis.device, dtype=vis.dtype)
        return self.teacher(vis, ir, text)
