"""DTPF degradation events, their fusion-loss weights, and event-name normalisation.

The tables are the per-event loss weights of the DTPF teacher (arXiv 2504.07029; its code's
``loss_configs.task_configs`` as described in PAPER_SPEC 2.5). Each event selects the
weights of the fusion loss ``w_ssim L_ssim + w_max L_max + w_consist L_consist +
w_color L_color + w_grad L_grad`` (``ir_compose`` scales the IR term of ``L_consist``).

DTPF looks events up by lower-casing and replacing spaces with ``_``. Its own prompt
examples ("Overexposure", "Low Contrast") then miss the keys ``over_exposure`` and
``ir_low_contrast`` and silently get the default weights. :func:`normalize_event` closes that
gap: it also folds hyphens and underscores, ignores decoration a chat model adds
(``**Low Light**``, ``1. Blur.``) and resolves an alias table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from edgefuse.errors import ConfigError

TASKS = ("ivf", "medical")
DEFAULT_EVENT = "default"
# The event the rule annotator emits when it finds no degradation. It is a known event
# (not "unknown") that maps to the default weights.
GENERIC_EVENT = "general"
WEIGHT_KEYS = ("max", "consist", "grad", "ssim", "color", "ir_compose")


def _w(max_: float, consist: float, grad: float, ssim: float = 2, color: float = 12) -> Mapping[str, float]:
    # ir_compose = 1 everywhere: DTPF's consist loss uses c = 1 and the medical table
    # does not set it.
    weights = {"max": max_, "consist": consist, "grad": grad, "ssim": ssim, "color": color, "ir_compose": 1}
    return MappingProxyType({k: float(v) for k, v in weights.items()})


# PAPER_SPEC 2.5, IVF table (max, consist, grad[, ssim, color]).
IVF_WEIGHTS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "low_light": _w(48, 20, 48),
        "over_exposure": _w(32, 60, 48),
        "ir_low_contrast": _w(40, 40, 48),
        "ir_noise": _w(32, 60, 48),
        "motion_blur": _w(32, 40, 72),
        "sensor_artifact": _w(24, 80, 96),
        "high_noise": _w(32, 80, 72),
        "default": _w(24, 40, 48),
    }
)

# PAPER_SPEC 2.5, medical keys; colour 12 and ssim 2 unless the table gives them.
MEDICAL_WEIGHTS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "contrast_enhancement": _w(40, 60, 96, ssim=4),
        "edge_preservation": _w(48, 80, 72),
        "noise_suppression": _w(32, 100, 72, ssim=4),
        "detail_enhancement": _w(40, 80, 96),
        "structure_consistency": _w(48, 100, 72, ssim=8),
        "artifact_reduction": _w(32, 120, 96, ssim=6),
        "default": _w(40, 80, 72, ssim=4),
    }
)

EVENT_WEIGHTS: Mapping[str, Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {"ivf": IVF_WEIGHTS, "medical": MEDICAL_WEIGHTS}
)

# The vocabulary per task: the loss-weight keys without "default", in DTPF's order.
VOCABULARY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {task: tuple(k for k in table if k != DEFAULT_EVENT) for task, table in EVENT_WEIGHTS.items()}
)

# How events are written in prompts (DTPF's "Event Type: X" lines use title case).
DISPLAY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "low_light": "Low Light",
        "over_exposure": "Over Exposure",
        "ir_low_contrast": "IR Low Contrast",
        "ir_noise": "IR Noise",
        "motion_blur": "Motion Blur",
        "sensor_artifact": "Sensor Artifact",
        "high_noise": "High Noise",
        "contrast_enhancement": "Contrast Enhancement",
        "edge_preservation": "Edge Preservation",
        "noise_suppression": "Noise Suppression",
        "detail_enhancement": "Detail Enhancement",
        "structure_consistency": "Structure Consistency",
        "artifact_reduction": "Artifact Reduction",
        GENERIC_EVENT: "General Fusion",
        DEFAULT_EVENT: "General Fusion",
    }
)

# Aliases, written in normalised form (lower case, words joined by "_"). A name also
# matches with its underscores removed, so "overexposure" and "lowlight" need no entry.
_IVF_ALIASES = {
    "over_exposed": "over_exposure",
    "overexposed_visible": "over_exposure",
    "visible_over_exposure": "over_exposure",
    "glare": "over_exposure",
    "strong_light": "over_exposure",
    "low_contrast": "ir_low_contrast",
    "infrared_low_contrast": "ir_low_contrast",
    "thermal_low_contrast": "ir_low_contrast",
    "ir_contrast": "ir_low_contrast",
    "noise": "ir_noise",
    "infrared_noise": "ir_noise",
    "thermal_noise": "ir_noise",
    "visible_noise": "high_noise",
    "noisy": "high_noise",
    "heavy_noise": "high_noise",
    "gaussian_noise": "high_noise",
    "random_noise": "high_noise",
    "low_light": "low_light",
    "low_illumination": "low_light",
    "dark": "low_light",
    "darkness": "low_light",
    "night": "low_light",
    "nighttime": "low_light",
    "under_exposure": "low_light",
    "underexposed": "low_light",
    "blur": "motion_blur",
    "blurry": "motion_blur",
    "blurred": "motion_blur",
    "defocus_blur": "motion_blur",
    "sensor_artifacts": "sensor_artifact",
    "sensor_artefact": "sensor_artifact",
    "sensor_artefacts": "sensor_artifact",
    "stripe_noise": "sensor_artifact",
    "stripe": "sensor_artifact",
    "stripes": "sensor_artifact",
    "fixed_pattern_noise": "sensor_artifact",
    "infrared_stripe_noise": "sensor_artifact",
    "ir_stripe_noise": "sensor_artifact",
}
_MEDICAL_ALIASES = {
    "contrast": "contrast_enhancement",
    "low_contrast": "contrast_enhancement",
    "contrast_enhance": "contrast_enhancement",
    "edge": "edge_preservation",
    "edges": "edge_preservation",
    "edge_preserving": "edge_preservation",
    "edge_enhancement": "edge_preservation",
    "noise": "noise_suppression",
    "noisy": "noise_suppression",
    "noise_reduction": "noise_suppression",
    "denoising": "noise_suppression",
    "high_noise": "noise_suppression",
    "detail": "detail_enhancement",
    "details": "detail_enhancement",
    "detail_preservation": "detail_enhancement",
    "fine_detail": "detail_enhancement",
    "structure": "structure_consistency",
    "structural_consistency": "structure_consistency",
    "structure_preservation": "structure_consistency",
    "artifact": "artifact_reduction",
    "artifacts": "artifact_reduction",
    "artefact": "artifact_reduction",
    "artefacts": "artifact_reduction",
    "artefact_reduction": "artifact_reduction",
    "artifact_removal": "artifact_reduction",
    "motion_artifact": "artifact_reduction",
}
_GENERIC_ALIASES = {
    "general": DEFAULT_EVENT,
    "general_fusion": DEFAULT_EVENT,
    "default": DEFAULT_EVENT,
    "none": DEFAULT_EVENT,
    "no_degradation": DEFAULT_EVENT,
    "normal": DEFAULT_EVENT,
    "clean": DEFAULT_EVENT,
}
ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "ivf": MappingProxyType({**_GENERIC_ALIASES, **_IVF_ALIASES}),
        "medical": MappingProxyType({**_GENERIC_ALIASES, **_MEDICAL_ALIASES}),
    }
)

_NON_WORD = re.compile(r"[^a-z0-9]+")
_PARENTHESES = re.compile(r"\([^)]*\)")  # "Sensor Artifact(s)", "Low Contrast (IR)"
_BULLET = re.compile(r"^[\s*#>\-]*(\d+[.)])?\s*")  # "- ", "**", "1. ", "2) "


def check_task(task: str) -> str:
    """Return ``task`` if it is a known task, else raise ``ConfigError``."""
    if task not in EVENT_WEIGHTS:
        raise ConfigError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    return task


def canonical_name(name: str) -> str:
    """Lower-case ``name``, drop chat-model decoration, join words with ``_``.

    Bullets and list numbers are dropped, and so is anything in parentheses; every run of
    other characters than ``a-z0-9`` becomes one ``_``: ``" Over-Exposure. "`` ->
    ``"over_exposure"``, ``"**Low Light**"`` -> ``"low_light"``, ``"Sensor Artifact(s)"`` ->
    ``"sensor_artifact"``.
    """
    text = _BULLET.sub("", _PARENTHESES.sub(" ", name.lower()))
    return _NON_WORD.sub("_", text).strip("_")


def _lookup_table(task: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for key in VOCABULARY[task]:
        table[key] = key
    table.update(ALIASES[task])
    # Second chance without separators: "overexposure", "lowlight", "IRnoise".
    compact = {k.replace("_", ""): v for k, v in table.items()}
    return {**compact, **table}


_TABLES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {task: MappingProxyType(_lookup_table(task)) for task in TASKS}
)


def normalize_event(name: str, task: str = "ivf") -> str:
    """Map an event name, as a person or a chat model wrote it, to a loss-weight key.

    Args:
        name: e.g. ``"Overexposure"``, ``"IR Low Contrast"``, ``"stripe noise"``.
        task: ``"ivf"`` (infrared/visible) or ``"medical"``.

    Returns:
        A key of ``EVENT_WEIGHTS[task]``; ``"default"`` for the generic event and for
        names no table knows (see :func:`unknown_events`).
    """
    check_task(task)
    key = canonical_name(name)
    table = _TABLES[task]
    return table.get(key) or table.get(key.replace("_", "")) or DEFAULT_EVENT


def event_name(name: str, task: str = "ivf") -> str | None:
    """The vocabulary event of ``name`` (``"general"`` for generic names), or ``None`` if unknown."""
    check_task(task)
    key = canonical_name(name)
    table = _TABLES[task]
    hit = table.get(key) or table.get(key.replace("_", ""))
    if hit is None:
        return None
    return GENERIC_EVENT if hit == DEFAULT_EVENT else hit


def unknown_events(names: Iterable[str], task: str = "ivf") -> list[str]:
    """The names that :func:`normalize_event` maps to ``"default"`` only because it does not know them."""
    return [n for n in names if event_name(n, task) is None]


def weights_for(events: Iterable[str], task: str = "ivf") -> list[dict[str, float]]:
    """Loss weights (a fresh ``dict`` with :data:`WEIGHT_KEYS`) for each event, in order.

    DTPF averages the fusion loss over a sample's events. An empty list means the sample
    had no "Event Type:" line; DTPF's teacher loss then gives that sample 0, so the caller
    decides (use ``weights_for([GENERIC_EVENT])`` for the default weights instead).
    """
    table = EVENT_WEIGHTS[check_task(task)]
    return [dict(table[normalize_event(e, task)]) for e in events]


def display_name(event: str, task: str = "ivf") -> str:
    """The prompt spelling of an event (``"low_light"`` -> ``"Low Light"``); unknown names as given."""
    known = event_name(event, task)
    return DISPLAY_NAMES[known] if known is not None else event.strip()
