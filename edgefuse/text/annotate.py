"""Per-pair event annotations and the deterministic rule-based annotator.

DTPF (arXiv 2504.07029) annotates each training pair offline with a vision-language model
(Qwen2-VL) that answers with "Event Type:" lines; the events choose the teacher's loss
weights and, through :func:`edgefuse.text.prompts.prompt_text`, its text prior. When no such
model is at hand, :class:`RuleAnnotator` gives the same kind of annotation from image
statistics (:mod:`edgefuse.text.stats`), in a few milliseconds per pair and always the
same for the same pair. :class:`edgefuse.text.vlm.VLMAnnotator` asks a chat model and
falls back to these rules.

Rules, infrared/visible (``task="ivf"``; statistics of the visible luma unless said):

=================  =============================================================
event              fires when
=================  =============================================================
low_light          mean < LOW_LIGHT_MEAN, or dark fraction >= LOW_LIGHT_DARK_FRACTION
over_exposure      clipped fraction >= OVER_EXPOSURE_SATURATED, or mean >= OVER_EXPOSURE_MEAN
ir_low_contrast    IR RMS contrast < IR_LOW_CONTRAST
ir_noise           IR Immerkær sigma > IR_NOISE_SIGMA
high_noise         visible Immerkær sigma > HIGH_NOISE_SIGMA
motion_blur        Laplacian-variance ratio < BLUR_SHARPNESS (and some contrast left)
sensor_artifact    IR or visible stripe score > STRIPE_LEVEL
general            none of the above (maps to the "default" weights)
=================  =============================================================

Rules, medical (``task="medical"``; "MRI" is the grey image, "functional" the colour-role
CT/PET/SPECT image; statistics inside the head, i.e. where either image is brighter than
20 grey levels):

=======================  ===================================================================
event                    fires when
=======================  ===================================================================
contrast_enhancement     MRI RMS contrast < MRI_LOW_CONTRAST
noise_suppression        MRI or functional Immerkær sigma > MEDICAL_NOISE_SIGMA
artifact_reduction       MRI or functional stripe score > MEDICAL_STRIPE_LEVEL
edge_preservation        functional clipped fraction >= CT_BONE_SATURATED (bright bone edges)
structure_consistency    functional colourfulness >= FUNCTIONAL_COLOURFULNESS (PET/SPECT
                         pseudo-colour must not hide the MRI anatomy)
detail_enhancement       grey functional image (CT): MRI soft-tissue detail is what CT lacks
=======================  ===================================================================

The thresholds were set on the shared MSRS, RoadScene and Harvard subsets and on the
same images with added Gaussian noise, blur and column stripes (see the test suite).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgefuse.data.pairs import LoadedPair
from edgefuse.errors import ConfigError
from edgefuse.text.events import GENERIC_EVENT, check_task, event_name
from edgefuse.text.prompts import prompt_text
from edgefuse.text.stats import ImageStats, foreground_mask, image_stats
from edgefuse.files import sha256_hex

SOURCES = ("rules", "vlm", "fallback")

# --- infrared/visible thresholds (luma on a 0..1 scale, noise and stripes in grey levels)
LOW_LIGHT_MEAN = 0.25  # msrs/test night scenes: 0.05-0.18; day scenes: 0.28-0.49
LOW_LIGHT_DARK_FRACTION = 0.5  # half of the pixels at or below 20/255
OVER_EXPOSURE_SATURATED = 0.05  # 5 % of the pixels clipped at >= 250/255
OVER_EXPOSURE_MEAN = 0.75
IR_LOW_CONTRAST = 0.06  # RMS contrast; MSRS IR 0.03-0.12, RoadScene IR 0.14-0.29
IR_NOISE_SIGMA = 3.0  # clean IR sets: 0.2-2.5; +N(0, 3^2) noise reads 2.6-4.3
HIGH_NOISE_SIGMA = 4.0  # clean visible sets: 0.2-3.1; +N(0, 5^2) noise reads 4.6-6.3
# Clean sets: 5th percentile 0.011-0.033; after a 15-px horizontal motion blur the median
# is 0.008-0.019, so only strong blur is caught.
BLUR_SHARPNESS = 0.012
BLUR_MIN_CONTRAST = 0.02  # a near-uniform image has no edges to blur
STRIPE_LEVEL = 2.0  # clean IVF sets: < 2; 4-grey-level column noise: 2.5-3.3

# --- medical thresholds
MRI_LOW_CONTRAST = 0.17  # RMS contrast inside the head; Harvard MRI 0.12-0.33
MEDICAL_NOISE_SIGMA = 6.0  # Harvard MRI 0.7-5.7, a noisier MRI series 7.2-8.9
MEDICAL_STRIPE_LEVEL = 5.0  # anatomy (left-right symmetry) alone scores up to ~4.6
CT_BONE_SATURATED = 0.2  # fraction of head pixels >= 250/255 in the CT
FUNCTIONAL_COLOURFULNESS = 0.15  # mean HSV saturation inside the head; CT = 0
MEDICAL_FOREGROUND_LEVEL = 20


# Cache lines carry this version: a digest of every threshold above, so that changing one
# re-annotates cached pairs. Bump the leading number when a rule itself changes.
_THRESHOLDS = sorted((k, v) for k, v in globals().items() if k.isupper() and isinstance(v, (int, float)))
_RULES_VERSION = "1-" + sha256_hex(repr(_THRESHOLDS), 8)


@dataclass(frozen=True)
class Annotation:
    """Events found in one pair.

    Attributes:
        events: vocabulary event names (keys of the task's weight table, or
            ``"general"``), most important first; never empty.
        descriptions: one free-text description per event, when a chat model gave them.
        source: ``"rules"``, ``"vlm"``, or ``"fallback"`` (rules used because the chat
            model failed).
    """

    events: tuple[str, ...]
    descriptions: tuple[str, ...] | None = None
    source: str = "rules"
    stats: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.events:
            raise ConfigError("an Annotation needs at least one event; use 'general' for none")
        if self.source not in SOURCES:
            raise ConfigError(f"unknown annotation source {self.source!r}; use one of {', '.join(SOURCES)}")
        if self.descriptions is not None and len(self.descriptions) != len(self.events):
            raise ConfigError(
                f"{len(self.descriptions)} descriptions for {len(self.events)} events; give one per event"
            )

    def prompt(self, task: str = "ivf") -> str:
        """DTPF's text for this annotation (see :func:`edgefuse.text.prompts.prompt_text`)."""
        return prompt_text(self.events, task)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: events, descriptions, source."""
        return {
            "events": list(self.events),
            "descriptions": list(self.descriptions) if self.descriptions is not None else None,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Annotation:
        """Inverse of :meth:`to_dict`."""
        desc = data.get("descriptions")
        return cls(tuple(data["events"]), tuple(desc) if desc is not None else None, data["source"])

    def __str__(self) -> str:
        return json.dumps(self.to_dict())


class Annotator(Protocol):
    """Anything that turns a loaded pair into an :class:`Annotation`.

    ``name`` names the annotator in cache files; ``version`` changes whenever the same
    pair could get a different annotation (new thresholds, another model), so that cached
    lines of an older version are not reused.
    """

    name: str
    version: str

    def annotate(self, pair: LoadedPair, task: str = "ivf") -> Annotation: ...


def _ivf_events(vis: ImageStats, ir: ImageStats) -> list[str]:
    rules = [
        ("low_light", vis.mean < LOW_LIGHT_MEAN or vis.dark >= LOW_LIGHT_DARK_FRACTION),
        ("over_exposure", vis.saturated >= OVER_EXPOSURE_SATURATED or vis.mean >= OVER_EXPOSURE_MEAN),
        ("ir_low_contrast", ir.contrast < IR_LOW_CONTRAST),
        ("ir_noise", ir.noise > IR_NOISE_SIGMA),
        ("high_noise", vis.noise > HIGH_NOISE_SIGMA),
        ("motion_blur", vis.sharpness < BLUR_SHARPNESS and vis.contrast > BLUR_MIN_CONTRAST),
        ("sensor_artifact", max(ir.stripes, vis.stripes) > STRIPE_LEVEL),
    ]
    return [name for name, fired in rules if fired]


def _medical_events(functional: ImageStats, mri: ImageStats) -> list[str]:
    colour = functional.colourfulness >= FUNCTIONAL_COLOURFULNESS
    rules = [
        ("contrast_enhancement", mri.contrast < MRI_LOW_CONTRAST),
        ("noise_suppression", max(mri.noise, functional.noise) > MEDICAL_NOISE_SIGMA),
        ("artifact_reduction", max(mri.stripes, functional.stripes) > MEDICAL_STRIPE_LEVEL),
        ("edge_preservation", not colour and functional.saturated >= CT_BONE_SATURATED),
        ("structure_consistency", colour),
        ("detail_enhancement", not colour),
    ]
    return [name for name, fired in rules if fired]


class RuleAnnotator:
    """Deterministic events from image statistics (thresholds: module constants).

    Args:
        keep_stats: also return the statistics in ``Annotation.stats`` (for debugging
            and threshold tuning; not written to caches).
    """

    name = "rules"
    version = _RULES_VERSION

    def __init__(self, keep_stats: bool = False) -> None:
        self.keep_stats = keep_stats

    def annotate(self, pair: LoadedPair, task: str = "ivf") -> Annotation:
        """Annotate one decoded pair (``pair.vis`` RGB, ``pair.ir`` grey)."""
        check_task(task)
        if task == "ivf":
            vis, ir = image_stats(pair.vis), image_stats(pair.ir)
            events = _ivf_events(vis, ir)
        else:
            mask = foreground_mask(pair.ir, pair.vis, level=MEDICAL_FOREGROUND_LEVEL)
            vis, ir = image_stats(pair.vis, mask), image_stats(pair.ir, mask)
            events = _medical_events(vis, ir)
        events = events or [GENERIC_EVENT]
        stats = {"vis": vis.as_dict(), "ir": ir.as_dict()} if self.keep_stats else {}
        return Annotation(tuple(events), None, "rules", stats)


def annotation_from_names(
    names: list[str], descriptions: list[str | None], task: str, source: str
) -> tuple[Annotation | None, list[str]]:
    """Build an annotation from free-form event names; return it (or None) and the unknown names.

    Known names are normalised to vocabulary events (duplicates dropped, first kept);
    unknown ones are left out and returned, so the caller can report them.
    """
    events: list[str] = []
    descs: list[str] = []
    unknown: list[str] = []
    for name, desc in zip(names, descriptions, strict=True):
        event = event_name(name, task)
        if event is None:
            unknown.append(name)
        elif event not in events:
            events.append(event)
            descs.append(desc or "")
    if len(events) > 1 and GENERIC_EVENT in events:  # "none" next to real events says nothing
        i = events.index(GENERIC_EVENT)
        del events[i], descs[i]
    if not events:
        return None, unknown
    has_desc = any(descs)
    return Annotation(tuple(events), tuple(descs) if has_desc else None, source), unknown
