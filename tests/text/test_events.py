"""Event vocabulary, loss-weight tables and name normalisation (PAPER_SPEC 2.5)."""

from __future__ import annotations

import pytest

from edgefuse.errors import ConfigError
from edgefuse.text.events import (
    ALIASES,
    DEFAULT_EVENT,
    DISPLAY_NAMES,
    EVENT_WEIGHTS,
    GENERIC_EVENT,
    VOCABULARY,
    WEIGHT_KEYS,
    canonical_name,
    event_name,
    normalize_event,
    unknown_events,
    weights_for,
)

DTPF_PROMPT_EXAMPLES = [
    "Low Light",
    "High Noise",
    "Overexposure",
    "Motion Blur",
    "Low Contrast",
    "Sensor Artifact",
]
DTPF_MEDICAL_EXAMPLES = [
    "Contrast Enhancement",
    "Edge Preservation",
    "Noise Suppression",
    "Detail Enhancement",
    "Structure Consistency",
    "Artifact Reduction",
]


def test_tables_match_paper_spec():
    ivf, med = EVENT_WEIGHTS["ivf"], EVENT_WEIGHTS["medical"]
    assert dict(ivf["low_light"]) == {
        "max": 48,
        "consist": 20,
        "grad": 48,
        "ssim": 2,
        "color": 12,
        "ir_compose": 1,
    }
    assert (
        ivf["sensor_artifact"]["max"],
        ivf["sensor_artifact"]["consist"],
        ivf["sensor_artifact"]["grad"],
    ) == (
        24,
        80,
        96,
    )
    assert dict(ivf["default"]) == {
        "max": 24,
        "consist": 40,
        "grad": 48,
        "ssim": 2,
        "color": 12,
        "ir_compose": 1,
    }
    assert med["structure_consistency"]["ssim"] == 8 and med["artifact_reduction"]["consist"] == 120
    assert dict(med["default"]) == {
        "max": 40,
        "consist": 80,
        "grad": 72,
        "ssim": 4,
        "color": 12,
        "ir_compose": 1,
    }
    for table in EVENT_WEIGHTS.values():
        for weights in table.values():
            assert tuple(weights) == WEIGHT_KEYS


def test_tables_are_frozen():
    with pytest.raises(TypeError):
        EVENT_WEIGHTS["ivf"]["low_light"]["max"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        EVENT_WEIGHTS["ivf"]["new"] = {}  # type: ignore[index]


@pytest.mark.parametrize("task", ["ivf", "medical"])
def test_every_vocabulary_event_and_display_name_maps_to_itself(task):
    for event in VOCABULARY[task]:
        assert normalize_event(event, task) == event
        assert normalize_event(DISPLAY_NAMES[event], task) == event
        assert normalize_event(DISPLAY_NAMES[event].upper(), task) == event


@pytest.mark.parametrize("task", ["ivf", "medical"])
def test_every_alias_maps_to_an_existing_key(task):
    for alias, target in ALIASES[task].items():
        assert target in EVENT_WEIGHTS[task], (alias, target)
        assert normalize_event(alias, task) == target
        assert normalize_event(alias.replace("_", " ").title(), task) == target


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Overexposure", "over_exposure"),
        ("Over-Exposure", "over_exposure"),
        ("over exposure", "over_exposure"),
        ("  OVER_EXPOSURE ", "over_exposure"),
        ("Low Contrast", "ir_low_contrast"),
        ("IR Low Contrast", "ir_low_contrast"),
        ("infrared low contrast", "ir_low_contrast"),
        ("Noise", "ir_noise"),
        ("IR Noise", "ir_noise"),
        ("infrared noise", "ir_noise"),
        ("High Noise", "high_noise"),
        ("Low Light", "low_light"),
        ("Lowlight", "low_light"),
        ("low-light", "low_light"),
        ("dark", "low_light"),
        ("Blur", "motion_blur"),
        ("Motion Blur", "motion_blur"),
        ("Sensor Artifact", "sensor_artifact"),
        ("Sensor Artifacts", "sensor_artifact"),
        ("Sensor Artifact(s)", "sensor_artifact"),
        ("stripe noise", "sensor_artifact"),
        ("**Low Light**", "low_light"),
        ("1. Motion Blur.", "motion_blur"),
        ("- High  Noise", "high_noise"),
    ],
)
def test_ivf_aliases(name, key):
    assert normalize_event(name) == key


def test_dtpf_prompt_examples_get_their_own_weights():
    """DTPF's own examples fall back to "default" in its code; here none does."""
    for name in DTPF_PROMPT_EXAMPLES:
        assert normalize_event(name, "ivf") != DEFAULT_EVENT, name
    keys = {normalize_event(n, "ivf") for n in DTPF_PROMPT_EXAMPLES}
    assert len(keys) == len(DTPF_PROMPT_EXAMPLES)
    for name in DTPF_MEDICAL_EXAMPLES:
        assert normalize_event(name, "medical") != DEFAULT_EVENT, name


def test_medical_aliases():
    assert normalize_event("Low Contrast", "medical") == "contrast_enhancement"
    assert normalize_event("Noise", "medical") == "noise_suppression"
    assert normalize_event("Artefacts", "medical") == "artifact_reduction"
    assert normalize_event("Low Light", "medical") == DEFAULT_EVENT  # an IVF event, unknown here


def test_unknown_names_map_to_default_and_are_reported():
    assert normalize_event("Haze") == DEFAULT_EVENT
    assert normalize_event("") == DEFAULT_EVENT
    assert event_name("Haze") is None
    assert unknown_events(["Low Light", "Haze", "general", "Rain"]) == ["Haze", "Rain"]


def test_generic_event_is_known_and_default():
    assert normalize_event(GENERIC_EVENT) == DEFAULT_EVENT
    assert event_name("General Fusion") == GENERIC_EVENT
    assert unknown_events([GENERIC_EVENT, "none"]) == []


def test_canonical_name():
    assert canonical_name(" Over-Exposure. ") == "over_exposure"
    assert canonical_name("Low Contrast (IR)") == "low_contrast"


def test_weights_for():
    weights = weights_for(["Low Light", "Haze"], "ivf")
    assert weights == [dict(EVENT_WEIGHTS["ivf"]["low_light"]), dict(EVENT_WEIGHTS["ivf"]["default"])]
    weights[0]["max"] = 0  # a fresh dict: the table is untouched
    assert EVENT_WEIGHTS["ivf"]["low_light"]["max"] == 48
    assert weights_for([], "medical") == []


def test_unknown_task_raises_with_options():
    with pytest.raises(ConfigError, match=r"unknown task 'mri'.*ivf, medical"):
        normalize_event("Low Light", "mri")
