"""Hand-computed checks of EN, SD, SF, AG, MI, CC, SCD and PSNR on tiny images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.metrics import ag, cc, en, mi, psnr, scd, sd, sf

A2 = np.array([[1.0, 2.0], [3.0, 4.0]])


# --- EN ------------------------------------------------------------------------------------
def test_en_two_equal_levels_is_one_bit() -> None:
    assert en(np.array([[0.0, 255.0], [255.0, 0.0]])) == pytest.approx(1.0, abs=1e-15)


def test_en_four_equal_levels_is_two_bits() -> None:
    assert en(np.array([[0.0, 1.0], [2.0, 3.0]])) == pytest.approx(2.0, abs=1e-15)


def test_en_unequal_histogram() -> None:
    # counts 4, 4, 1 over 9 pixels: -(2 * 4/9 log2(4/9) + 1/9 log2(1/9))
    x = np.array([[10.0, 10, 10], [10, 20, 20], [20, 20, 30]])
    expected = -(2 * (4 / 9) * math.log2(4 / 9) + (1 / 9) * math.log2(1 / 9))
    assert en(x) == pytest.approx(expected, rel=1e-14)


def test_en_constant_is_zero_and_float_inputs_are_binned_by_rounding() -> None:
    assert en(np.full((5, 5), 77.0)) == 0.0
    assert en(np.array([[0.2, -0.3], [254.6, 300.0]])) == pytest.approx(1.0)  # 0, 0, 255, 255


# --- SD, SF, AG ----------------------------------------------------------------------------
def test_sd_is_population_std() -> None:
    # mean 3, squared deviations 9, 1, 1, 9 -> mean 5
    assert sd(np.array([[0.0, 2.0], [4.0, 6.0]])) == pytest.approx(math.sqrt(5.0))


def test_sf_each_mean_over_its_own_count() -> None:
    # horizontal diffs 2 and 4 -> RF^2 = (4 + 16) / 2 = 10; vertical 3 and 5 -> CF^2 = 17
    assert sf(np.array([[1.0, 3.0], [4.0, 8.0]])) == pytest.approx(math.sqrt(27.0))


def test_ag_with_matlab_gradient_borders() -> None:
    x = np.array([[1.0, 2, 4], [2, 5, 7], [3, 6, 12]])
    # gx (one-sided at the left/right columns, central inside) and gy likewise, by hand:
    # gx = [[1, 1.5, 2], [3, 2.5, 2], [3, 4.5, 6]]; gy = [[1, 3, 3], [1, 2, 4], [1, 1, 5]]
    # terms sqrt((gx^2 + gy^2) / 2):
    terms = [1.0, 5.625, 6.5, 5.0, 5.125, 10.0, 5.0, 10.625, 30.5]
    total = sum(math.sqrt(t) for t in terms)
    assert ag(x) == pytest.approx(total / ((3 - 1) * (3 - 1)))
    assert ag(x, convention="cddfuse") == pytest.approx(total / 9)


def test_ag_ramp_and_constant() -> None:
    ramp = np.tile([0.0, 1.0, 2.0], (3, 1))  # gx = 1, gy = 0 everywhere -> sqrt(1/2) per pixel
    assert ag(ramp) == pytest.approx(9 * math.sqrt(0.5) / 4)
    assert ag(np.full((4, 4), 9.0)) == 0.0
    with pytest.raises(ConfigError):
        ag(ramp, convention="mean")


def test_sf_ag_need_two_pixels_per_side() -> None:
    with pytest.raises(ShapeMismatchError):
        sf(np.zeros((1, 5)))
    with pytest.raises(ShapeMismatchError):
        ag(np.zeros((5, 1)))


# --- MI ------------------------------------------------------------------------------------
def test_mi_identical_two_level_images_is_one_bit_per_source() -> None:
    x = np.array([[0.0, 255.0], [255.0, 0.0]])
    assert mi(x, x, x) == pytest.approx(2.0)
    assert mi(x, x, x, base=math.e) == pytest.approx(2.0 * math.log(2.0))


def test_mi_independent_and_coarse_sources() -> None:
    f = np.array([[0.0, 1.0], [2.0, 3.0]])  # H(F) = 2 bits
    a = np.array([[0.0, 0.0], [9.0, 9.0]])  # H(A) = 1, H(A,F) = 2 -> MI(A,F) = 1
    b = np.array([[0.0, 9.0], [0.0, 9.0]])  # also a function of F -> 1
    assert mi(f, a, b) == pytest.approx(2.0)
    g = np.array([[0.0, 0.0], [9.0, 9.0]])
    h = np.array([[0.0, 9.0], [0.0, 9.0]])  # joint of (g, h) uniform over 4 -> MI = 1 + 1 - 2
    assert mi(g, h, h) == pytest.approx(0.0, abs=1e-15)


def test_mi_nats_are_bits_times_ln2() -> None:
    rng = np.random.default_rng(1)
    f, a, b = (rng.integers(0, 32, (24, 24)).astype(float) for _ in range(3))
    assert mi(f, a, b, base=math.e) == pytest.approx(mi(f, a, b) * math.log(2.0), rel=1e-12)


def test_mi_matches_sklearn_nats() -> None:
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (40, 40)).astype(float)
    b = rng.integers(0, 256, (40, 40)).astype(float)
    f = np.round((a + b) / 2)
    expected = skm.mutual_info_score(f.ravel(), a.ravel()) + skm.mutual_info_score(f.ravel(), b.ravel())
    assert mi(f, a, b, base=math.e) == pytest.approx(expected, rel=1e-12)


def test_mi_bad_base() -> None:
    with pytest.raises(ConfigError):
        mi(A2, A2, A2, base=1.0)


# --- CC, SCD -------------------------------------------------------------------------------
def test_cc_hand_example_and_constant_source() -> None:
    f = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = np.array([[1.0, 3.0], [2.0, 4.0]])
    # deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): r = 4 / sqrt(5 * 5) = 0.8
    b = np.full((2, 2), 7.0)  # constant -> r defined as 0
    assert cc(f, a, b) == pytest.approx((0.8 + 0.0) / 2)
    assert cc(f, f, f) == pytest.approx(1.0)
    assert cc(f, -f + 10, -f + 10) == pytest.approx(-1.0)


def test_scd_hand_example() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0]])
    f = np.array([[2.0, 3.0], [3.0, 5.0]])
    # F - B = (0, 3, 2, 4): deviations (-2.25, .75, -.25, 1.75), sum sq 8.75; A deviations
    # (-1.5, -.5, .5, 1.5), sum sq 5; cross sum 5.5 -> r1 = 5.5 / sqrt(43.75).
    # F - A = (1, 1, 0, 1) against B = (2, 0, 1, 1): cross sum .25 - .25 + 0 + 0 = 0 -> r2 = 0.
    assert scd(f, a, b) == pytest.approx(5.5 / math.sqrt(8.75 * 5.0))


def test_scd_constant_difference_is_zero() -> None:
    a = np.array([[1.0, 5.0], [2.0, 7.0]])
    b = np.array([[3.0, 1.0], [4.0, 1.0]])
    f = a + 3.0  # F - A constant -> r(F - A, B) = 0; F - B = A + 3 - B
    fb, a_ = (f - b).ravel(), a.ravel()
    fbc, ac = fb - fb.mean(), a_ - a_.mean()
    r1 = float(fbc @ ac) / math.sqrt(float(fbc @ fbc) * float(ac @ ac))
    assert scd(f, a, b) == pytest.approx(r1)


# --- PSNR ----------------------------------------------------------------------------------
F_P = np.full((2, 2), 20.0)
A_P = np.full((2, 2), 10.0)  # MSE(F, A) = 100
B_P = np.array([[20.0, 20.0], [20.0, 40.0]])  # MSE(F, B) = 400 / 4 = 100


def test_psnr_conventions_on_known_mse() -> None:
    standard = 10 * math.log10(255**2 / 100.0)  # 28.13 dB
    assert psnr(F_P, A_P, B_P, convention="standard") == pytest.approx(standard)
    # fusion: images in [0, 1], MSE = 100 / 255^2, 20 log10(255 / sqrt(MSE)) = standard + 48.13
    fusion = 20 * math.log10(255 / math.sqrt(100.0 / 255**2))
    assert psnr(F_P, A_P, B_P) == pytest.approx(fusion)
    assert fusion - standard == pytest.approx(10 * math.log10(255**2))  # the +48.13 dB
    assert psnr(F_P, A_P, B_P, convention="cddfuse") == pytest.approx(10 * math.log10(20.0**2 / 100.0))


def test_psnr_identical_images_are_finite() -> None:
    x = np.arange(16.0).reshape(4, 4)
    assert psnr(x, x, x, convention="standard") == pytest.approx(10 * math.log10(255**2 / 1e-10))
    assert psnr(x, x, x) == pytest.approx(10 * math.log10(255**4 / 1e-10))
    assert math.isfinite(psnr(np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3)), convention="cddfuse"))
    with pytest.raises(ConfigError):
        psnr(x, x, x, convention="db")
