"""DTPF text priors: degradation events, pair annotation, prompts and text encoders."""

from edgefuse.text.annotate import Annotation, Annotator, RuleAnnotator
from edgefuse.text.dataset import annotate_dataset, default_cache_path, read_annotations
from edgefuse.text.encoders import (
    TEXT_ENCODERS,
    ClipEncoder,
    MiniLMEncoder,
    TextEncoder,
    cached_embeddings,
    create_text_encoder,
)
from edgefuse.text.events import (
    EVENT_WEIGHTS,
    GENERIC_EVENT,
    VOCABULARY,
    normalize_event,
    unknown_events,
    weights_for,
)
from edgefuse.text.prompts import parse_event_lines, prompt_text
from edgefuse.text.vlm import VLMAnnotator

__all__ = [
    "EVENT_WEIGHTS",
    "GENERIC_EVENT",
    "TEXT_ENCODERS",
    "VOCABULARY",
    "Annotation",
    "Annotator",
    "ClipEncoder",
    "MiniLMEncoder",
    "RuleAnnotator",
    "TextEncoder",
    "VLMAnnotator",
    "annotate_dataset",
    "cached_embeddings",
    "create_text_encoder",
    "default_cache_path",
    "normalize_event",
    "parse_event_lines",
    "prompt_text",
    "read_annotations",
    "unknown_events",
    "weights_for",
]
