"""Text priors for training and inference: annotate pairs and embed their DTPF prompts once (the PromptBank)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from edgefuse.errors import ConfigError
from edgefuse.secrets import redact

logger = logging.getLogger(__name__)

EventsByPair = dict[tuple[str, str], tuple[str, ...]]


def create_annotator(spec: str, model: str = "qwen2-vl", timeout: float = 60.0):  # noqa: ANN201 - text types imported lazily
    """``rules`` or the base URL of an OpenAI-compatible chat endpoint (``http://...``)."""
    from edgefuse.text import RuleAnnotator, VLMAnnotator

    if spec == "rules":
        return RuleAnnotator()
    if spec.startswith(("http://", "https://")):
        return VLMAnnotator(spec, model, timeout=timeout)
    raise ConfigError(f"annotator {redact(spec)!r} is neither 'rules' nor an http(s):// chat endpoint URL")


def annotate_roots(roots: Sequence[str], annotator_spec: str, task: str, vlm_model: str,
                   vlm_timeout: float = 60.0) -> EventsByPair:
    """Events of every pair of every root, keyed by (resolved root, pair name)."""
    from edgefuse.text import annotate_dataset

    annotator = create_annotator(annotator_spec, vlm_model, vlm_timeout)
    events: EventsByPair = {}
    for root in roots:
        annotations = annotate_dataset(root, annotator, task=task)
        resolved = str(Path(root).resolve())
        for name, ann in annotations.items():
            events[(resolved, name)] = tuple(ann.events)
        logger.info("annotated %d pairs of %s with %s", len(annotations), root, redact(annotator_spec))
    return events


def check_text_encoder(name: str, weights_path: str | Path | None) -> None:
    """Fail early (one line) on an unknown encoder or a ``clip`` weights folder that is not a CLIP checkpoint."""
    from edgefuse.text import create_text_encoder

    if name == "clip" and not weights_path:
        raise ConfigError("text encoder 'clip' needs --text-weights DIR (a local CLIP folder in Hugging Face format)")
    encoder = create_text_encoder(name, **({"weights_path": weights_path} if weights_path else {}))
    if name == "clip":
        encoder.dim  # reads config.json: CheckpointError for a folder that is not a CLIP checkpoint


class PromptBank:
    """DTPF prompt text and its embedding for each distinct event list, computed once."""

    def __init__(self, encoder_name: str, task: str, cache_dir: str | Path,
                 weights_path: str | Path | None = None) -> None:
        from edgefuse.text import create_text_encoder

        self.task = task
        options = {"weights_path": weights_path} if weights_path else {}
        self.encoder = create_text_encoder(encoder_name, **options)
        self.cache_dir = Path(cache_dir)
        self._vectors: dict[tuple[str, ...], torch.Tensor] = {}

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def prepare(self, event_lists: Sequence[tuple[str, ...]]) -> None:
        """Embed the prompts of all ``event_lists`` not embedded yet (uses the disk cache)."""
        from edgefuse.text import cached_embeddings, prompt_text

        missing = [e for e in dict.fromkeys(event_lists) if e not in self._vectors]
        if not missing:
            return
        texts = [prompt_text(list(e), self.task) for e in missing]
        vectors = cached_embeddings(self.encoder, texts, self.cache_dir)
        for events, vec in zip(missing, vectors):
            self._vectors[events] = vec

    def batch(self, event_lists: Sequence[tuple[str, ...]]) -> torch.Tensor:
        """(N, dim) embeddings for a batch of event lists."""
        self.prepare(event_lists)
        return torch.stack([self._vectors[tuple(e)] for e in event_lists])
