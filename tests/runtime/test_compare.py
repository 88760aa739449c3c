"""``edgefuse.runtime.compare`` and the one rounding rule it scores with."""

from __future__ import annotations

import numpy as np
import pytest

from edgefuse.data.images import round_u8, u8_from_float, u8_hwc
from edgefuse.data.pairs import LoadedPair
from edgefuse.errors import ConfigError, DataError, ShapeMismatchError
from edgefuse.metrics.similarity import PSNR_CAP_DB, psnr_u8, ssim_u8
from edgefuse.runtime.compare import Comparison, Score, compare
from tests.helpers import textured


def _pairs(n: int = 2, h: int = 24, w: int = 32) -> list[LoadedPair]:
    out = []
    for k in range(n):
        vis = np.stack([textured(h, w, seed=3 * k + c) for c in range(3)], axis=2)
        out.append(LoadedPair(f"p{k}", textured(h, w, seed=100 + k), vis))
    return out


def average(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
    return (vis + ir) / 2


def test_round_u8_is_half_to_even_and_clipped():
    levels = np.array([0.5, 1.5, 2.5, 254.5, -3.0, 300.0, 7.49, 7.51])
    assert round_u8(levels).tolist() == [0, 2, 2, 254, 0, 255, 7, 8]
    assert round_u8(levels).dtype == np.uint8


def test_u8_from_float_rounds_the_exact_value_of_float32_inputs():
    from fractions import Fraction

    x32 = (np.arange(512, dtype=np.float64) / 510.0).astype(np.float32)  # near every half level
    exact = []
    for x in x32.tolist():
        v = Fraction(x) * 255
        lo = v.numerator // v.denominator
        frac = v - lo
        exact.append(min(255, lo + (frac > Fraction(1, 2) or (frac == Fraction(1, 2) and lo % 2 == 1))))
    assert u8_from_float(x32).tolist() == exact
    assert u8_from_float(np.array([1 / 510, 3 / 510, -1.0, 2.0])).tolist() == [0, 2, 0, 255]


def test_identical_fusers_score_exactly():
    res = compare(average, {"same": average}, _pairs())
    s = res["same"]
    assert s.psnr_db == PSNR_CAP_DB and s.ssim == pytest.approx(1.0) and s.max_abs_err == 0.0 and s.finite
    assert res.names == ["p0", "p1"] and [p.name for p in s.pairs] == ["p0", "p1"]


def test_scores_are_of_the_rounded_images_and_aggregate_over_pairs():
    pairs = _pairs(3)

    def darker(vis, ir):
        return average(vis, ir) - 2.0 / 255.0

    res = compare(average, {"darker": darker, "same": average}, pairs)
    s = res["darker"]
    for p, row in zip(pairs, s.pairs):
        v = p.vis.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)
        i = p.ir[None, None].astype(np.float32) / np.float32(255)
        ref, got = u8_hwc(average(v, i)), u8_hwc(darker(v, i))
        assert row.psnr_db == psnr_u8(got, ref) and row.ssim == ssim_u8(got, ref)
        assert row.psnr_db < 50.0
    assert s.psnr_db == float(np.mean([r.psnr_db for r in s.pairs]))
    assert s.psnr_db_min == min(r.psnr_db for r in s.pairs) and s.ssim_min <= s.ssim
    assert s.max_abs_err == pytest.approx(2.0 / 255.0, rel=1e-3)
    sub = Score(s.pairs[:1])
    assert sub.psnr_db == s.pairs[0].psnr_db and sub.names == ["p0"]
    doc = res.to_dict()
    assert set(doc["candidates"]) == {"darker", "same"}
    assert doc["candidates"]["darker"]["psnr_db"] == s.psnr_db and len(doc["candidates"]["darker"]["by_pair"]) == 3


def test_a_comparison_is_a_reusable_reference():
    pairs = _pairs()
    calls = []

    def counted(vis, ir):
        calls.append(1)
        return average(vis, ir)

    base = compare(counted, {}, pairs, fusion_metrics=("SSIM",))
    assert isinstance(base, Comparison) and not base.scores and len(calls) == 2
    again = compare(base, {"x": average}, pairs)
    assert len(calls) == 2 and again["x"].psnr_db == PSNR_CAP_DB
    with pytest.raises(ConfigError, match="pairs"):
        compare(base, {"x": average}, pairs[:1])
    with pytest.raises(ConfigError, match="VIF"):
        compare(base, {"x": average}, pairs, fusion_metrics=("VIF",))


def test_fusion_metrics_of_both_images():
    res = compare(average, {"x": average}, _pairs(1), fusion_metrics=("SSIM", "EN"))
    row = res["x"].pairs[0]
    assert set(row.metrics) == {"SSIM", "EN"} and row.metrics == row.reference_metrics
    assert row.to_dict()["EN_ref"] == row.metrics["EN"]


def test_bad_inputs():
    with pytest.raises(DataError, match="at least one pair"):
        compare(average, {}, [])
    with pytest.raises(ShapeMismatchError, match="must return"):
        compare(average, {"grey": lambda v, i: i}, _pairs(1))
    bad = LoadedPair("f", np.zeros((8, 8), np.float32), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ShapeMismatchError, match="uint8"):
        compare(average, {}, [bad])
