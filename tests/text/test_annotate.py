"""Rule-based annotation: each degradation, added on purpose, gives its event."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edgefuse.data.pairs import LoadedPair, find_pairs, load_pair
from edgefuse.errors import ConfigError
from edgefuse.text.annotate import Annotation, RuleAnnotator, annotation_from_names
from edgefuse.text.events import EVENT_WEIGHTS, GENERIC_EVENT, VOCABULARY


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _noise(shape: tuple[int, ...], sigma: float) -> np.ndarray:
    return np.random.default_rng(0).normal(0, sigma, shape)


DEGRADATIONS = {
    "low_light": lambda p: LoadedPair(p.name, p.ir, _u8(p.vis * 0.2)),
    "over_exposure": lambda p: LoadedPair(p.name, p.ir, _u8(p.vis * 1.6)),
    "ir_low_contrast": lambda p: LoadedPair(p.name, _u8(p.ir * 0.15 + 100), p.vis),
    "ir_noise": lambda p: LoadedPair(p.name, _u8(p.ir + _noise(p.ir.shape, 6)), p.vis),
    "high_noise": lambda p: LoadedPair(p.name, p.ir, _u8(p.vis + _noise(p.vis.shape[:2], 8)[..., None])),
    "motion_blur": lambda p: LoadedPair(p.name, p.ir, cv2.GaussianBlur(p.vis, (0, 0), 3)),
    "sensor_artifact": lambda p: LoadedPair(p.name, _u8(p.ir + _noise(p.ir.shape[1:], 6)[None, :]), p.vis),
}


def test_clean_pair_gets_the_generic_event(clean_pair):
    annotation = RuleAnnotator().annotate(clean_pair)
    assert annotation == Annotation((GENERIC_EVENT,), None, "rules")


def test_every_ivf_event_has_a_rule():
    assert set(DEGRADATIONS) == set(VOCABULARY["ivf"])


@pytest.mark.parametrize("event", sorted(DEGRADATIONS))
def test_degradation_fires_its_event(clean_pair, event):
    annotation = RuleAnnotator().annotate(DEGRADATIONS[event](clean_pair))
    assert event in annotation.events
    assert annotation.source == "rules"


def test_night_pair(night_pair):
    assert "low_light" in RuleAnnotator().annotate(night_pair).events


def test_medical_rules(medical_pair):
    annotation = RuleAnnotator().annotate(medical_pair, task="medical")
    assert "structure_consistency" in annotation.events  # PET pseudo-colour
    assert all(e in EVENT_WEIGHTS["medical"] for e in annotation.events)
    ct_like = LoadedPair("ct", medical_pair.ir, np.repeat(medical_pair.ir[..., None], 3, axis=2))
    assert "detail_enhancement" in RuleAnnotator().annotate(ct_like, task="medical").events


def test_rules_are_deterministic_and_fast():
    big = LoadedPair(
        "big",
        cv2.resize(np.random.default_rng(1).integers(0, 255, (120, 160), np.uint8), (640, 480)),
        cv2.resize(np.random.default_rng(2).integers(0, 255, (120, 160, 3), np.uint8), (640, 480)),
    )
    annotator = RuleAnnotator()
    first = annotator.annotate(big)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        assert annotator.annotate(big) == first
        times.append(time.perf_counter() - start)
    best = min(times)  # the minimum is robust to other processes on a busy CI machine
    assert best < 0.05, f"{best * 1e3:.1f} ms per 640x480 pair"


def test_stats_kept_on_request(clean_pair):
    annotation = RuleAnnotator(keep_stats=True).annotate(clean_pair)
    assert set(annotation.stats) == {"vis", "ir"} and "noise" in annotation.stats["ir"]


def test_annotation_checks_and_round_trip():
    a = Annotation(("low_light", "high_noise"), ("dark", "grainy"), "vlm")
    assert Annotation.from_dict(a.to_dict()) == a
    assert a.prompt().startswith("Event Type: Low Light")
    with pytest.raises(ConfigError, match="at least one event"):
        Annotation(())
    with pytest.raises(ConfigError, match="source 'llm'"):
        Annotation(("low_light",), None, "llm")
    with pytest.raises(ConfigError, match="1 descriptions for 2 events"):
        Annotation(("low_light", "high_noise"), ("x",))


def test_annotation_from_names():
    a, unknown = annotation_from_names(
        ["Low Light", "Haze", "lowlight", "none"], ["d1", "d2", "d3", None], "ivf", "vlm"
    )
    assert a == Annotation(("low_light",), ("d1",), "vlm") and unknown == ["Haze"]
    assert annotation_from_names(["Haze"], [None], "ivf", "vlm") == (None, ["Haze"])


def test_msrs_night_scenes_get_low_light(shared_data):
    root = shared_data / "msrs" / "test"
    if not root.is_dir():
        pytest.skip("msrs/test is not in ../shared/data")
    annotator = RuleAnnotator()
    hits = {"N": [], "D": []}
    for pair in find_pairs(root):
        hits[pair.name[-1]].append("low_light" in annotator.annotate(load_pair(pair)).events)
    assert np.mean(hits["N"]) >= 0.8
    assert np.mean(hits["D"]) <= 0.2
