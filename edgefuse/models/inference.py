"""The text prior a text-guided teacher needs at inference (used by the torch backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch



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
