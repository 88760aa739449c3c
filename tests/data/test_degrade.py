"""The degradation generators, the suite writer and its manifest, and full-reference matching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgefuse.data.degrade import (
    DEGRADATIONS, DegradationMix, degrade_pair, motion_kernel, pair_rng, parse_severities, parse_types, types_for,
)
from edgefuse.data.images import read_ir, read_vis
from edgefuse.data.suite import build_suite, read_manifest, reference_pairs
from edgefuse.errors import ConfigError, DataError
from edgefuse.text import RuleAnnotator
from edgefuse.data.pairs import LoadedPair
from tests.helpers import write_pair_dataset


def _scene(seed: int = 0, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (0.5 + 0.3 * np.sin(xx / 9.0) * np.cos(yy / 7.0)) * 255
    vis = np.stack([base, base * 0.9, base * 0.8], -1) + rng.normal(0, 2, (h, w, 3))
    ir = 120 + 60 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < 400) + rng.normal(0, 1, (h, w))
    return np.clip(vis, 0, 255).astype(np.uint8), np.clip(ir, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", list(DEGRADATIONS))
def test_each_type_is_seeded_one_sided_and_grows_with_severity(kind):
    vis, ir = _scene()
    deg = DEGRADATIONS[kind]
    diffs = []
    for s in (1, 2, 3):
        v1, i1, p1 = degrade_pair(vis, ir, kind, s, pair_rng(7, "a", kind, s))
        v2, i2, p2 = degrade_pair(vis, ir, kind, s, pair_rng(7, "a", kind, s))
        assert p1 == p2 and np.array_equal(v1, v2) and np.array_equal(i1, i2)  # deterministic
        assert v1.dtype == np.uint8 and v1.shape == vis.shape and i1.shape == ir.shape
        changed, kept = (v1, i1) if deg.side == "vis" else (i1, v1)
        assert np.array_equal(kept, ir if deg.side == "vis" else vis)  # only its own side changes
        diffs.append(np.abs(changed.astype(float) - (vis if deg.side == "vis" else ir)).mean())
    assert diffs[0] > 0.5 and diffs[0] < diffs[1] < diffs[2], diffs
    other = degrade_pair(vis, ir, kind, 2, pair_rng(8, "a", kind, 2))[2]
    assert other != degrade_pair(vis, ir, kind, 2, pair_rng(7, "a", kind, 2))[2]  # the seed matters


def test_degradations_do_what_they_say():
    vis, ir = _scene()
    dark = degrade_pair(vis, ir, "low_light", 3, pair_rng(0, "x", "low_light", 3))[0]
    assert dark.mean() < 0.35 * vis.mean()
    bright = degrade_pair(vis, ir, "over_exposure", 3, pair_rng(0, "x", "over_exposure", 3))[0]
    assert (bright == 255).mean() > 0.3
    flat = degrade_pair(vis, ir, "ir_low_contrast", 3, pair_rng(0, "x", "ir_low_contrast", 3))[1]
    assert flat.std() < 0.35 * ir.std()
    k = motion_kernel(9.0, 0.0)
    assert abs(k.sum() - 1) < 1e-6 and k.shape == (9, 9) and np.count_nonzero(k.sum(1) > 1e-3) == 1


def test_rule_annotator_sees_the_strong_degradations():
    vis, ir = _scene(3, 240, 320)
    ann = RuleAnnotator()
    for kind in ("low_light", "over_exposure", "ir_noise"):
        v, i, _ = degrade_pair(vis, ir, kind, 3, pair_rng(0, "x", kind, 3))
        assert DEGRADATIONS[kind].event in ann.annotate(LoadedPair("x", i, v)).events, kind


def test_mix_and_parsers():
    mix = DegradationMix(("ir_noise", "low_light"), (2,), clean_ratio=0.5)
    vis, ir = _scene()
    kinds = [mix.sample(vis, ir, np.random.default_rng(i))[2] for i in range(40)]
    assert {None, "ir_noise", "low_light"} == set(kinds)
    assert parse_types("all", "medical") == types_for("medical") == ("mri_noise", "mri_low_contrast")
    assert parse_types("ir_noise, low_light", "ivf") == ("ir_noise", "low_light")
    assert parse_severities("3,1") == (3, 1)
    with pytest.raises(ConfigError, match="Did you mean 'ir_noise'"):
        parse_types("ir_nosie", "ivf")
    with pytest.raises(ConfigError, match="unknown degradation type 'mri_noise'"):
        parse_types("mri_noise", "ivf")  # a medical type on an IVF folder
    for bad in ("0", "4", "x"):
        with pytest.raises(ConfigError, match="is not one of 1, 2, 3"):
            parse_severities(bad)
    with pytest.raises(ConfigError, match="clean ratio"):
        DegradationMix(("ir_noise",), clean_ratio=1.0)


def test_suite_manifest_and_reference(tmp_path):
    clean = write_pair_dataset(tmp_path / "clean", ["a", "b"], h=40, w=48)
    manifest = build_suite(clean, tmp_path / "suite", ("ir_noise", "low_light"), (1, 3), seed=5)
    doc = json.loads(manifest.read_text())
    assert doc["seed"] == 5 and len(doc["pairs"]) == 8
    entry = next(e for e in doc["pairs"] if e["name"] == "a__ir_noise_s3")
    assert entry["source"] == "a" and entry["event"] == "ir_noise" and set(entry["params"]) == {"sigma", "stripe"}
    assert read_ir(tmp_path / "suite" / "ir" / "a__ir_noise_s3.png").shape == (40, 48)
    assert read_vis(tmp_path / "suite" / "vi" / "b__low_light_s1.png").shape == (40, 48, 3)
    again = build_suite(clean, tmp_path / "suite2", ("ir_noise", "low_light"), (1, 3), seed=5)
    assert json.loads(again.read_text())["pairs"] == doc["pairs"]  # reproducible
    mapping, entries = reference_pairs(tmp_path / "suite", clean)
    assert mapping["b__low_light_s1"].name == "b" and entries["b__low_light_s1"]["severity"] == 1
    assert read_manifest(tmp_path / "suite")["types"] == ["ir_noise", "low_light"]


def test_suite_bad_input_writes_nothing(tmp_path):
    clean = write_pair_dataset(tmp_path / "clean", ["a", "b"], h=40, w=48)
    with pytest.raises(ConfigError, match="overlaps"):
        build_suite(clean, clean / "out", ("ir_noise",), (1,))
    with pytest.raises(ConfigError, match="severity"):
        build_suite(clean, tmp_path / "s", ("ir_noise",), (5,))
    assert not (tmp_path / "s").exists() and not (clean / "out").exists()
    build_suite(clean, tmp_path / "suite", ("ir_noise",), (2,))
    other = write_pair_dataset(tmp_path / "other", ["a", "c"], h=40, w=48)
    with pytest.raises(DataError, match="does not hold the clean pairs of this suite"):
        reference_pairs(tmp_path / "suite", other)
    small = write_pair_dataset(tmp_path / "small", ["a", "b"], h=32, w=48)
    with pytest.raises(DataError, match="does not match degraded pair"):
        reference_pairs(tmp_path / "suite", small)
    with pytest.raises(DataError, match="no manifest.json"):
        reference_pairs(clean, clean)
