"""VIF, Qabf, Nabf, SSIM and MS-SSIM: hand-computed cases, properties and literal-spec oracles."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.metrics import ms_ssim, nabf, qabf, ssim, vif, vifp

RNG = np.random.default_rng(20240611)


def _texture(shape: tuple[int, int] = (48, 48), smooth: bool = True) -> np.ndarray:
    """Integer-valued random texture in [0, 255] (optionally low-passed so windows see structure)."""
    x = RNG.uniform(0, 255, shape)
    if smooth:
        x = (x + np.roll(x, 1, 0) + np.roll(x, 1, 1) + np.roll(x, (1, 1), (0, 1))) / 4
    return np.round(x)


@pytest.fixture(scope="module")
def triplet() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sources and a noisy blend, tall enough (150 rows) to span three 64-row blocks."""
    a = _texture((150, 44))
    b = _texture((150, 44))
    f = np.clip(np.round(0.6 * a + 0.4 * b + RNG.normal(0, 6, a.shape)), 0, 255)
    return f, a, b


# --- VIF -----------------------------------------------------------------------------------
def test_vif_matches_literal_spec(triplet: tuple[np.ndarray, ...], spec_ref: ModuleType) -> None:
    f, a, b = triplet
    expected = spec_ref.vifp_reference(a, f) + spec_ref.vifp_reference(b, f)
    assert vif(f, a, b) == pytest.approx(expected, rel=1e-10)


def test_vifp_identity_shift_and_contrast() -> None:
    x = _texture()
    assert vifp(x, x) == pytest.approx(1.0, abs=1e-9)
    assert vif(x, x, x) == pytest.approx(2.0, abs=1e-9)
    assert vifp(x, x + 10.0) == pytest.approx(1.0, abs=1e-9)  # g = 1, sigma_v = 0
    assert vifp(x, 2.0 * x) > 1.0  # contrast gain is rewarded by VIFp


def test_vif_constant_reference_is_one_by_convention() -> None:
    c = np.full((32, 32), 90.0)
    assert vifp(c, _texture((32, 32))) == 1.0  # 0/0, S5's NaN -> 1 rule
    assert vif(_texture((32, 32)), c, c) == 2.0


def test_vif_needs_17_pixels() -> None:
    with pytest.raises(ShapeMismatchError):
        vif(np.zeros((16, 40)), np.zeros((16, 40)), np.zeros((16, 40)))
    assert math.isfinite(vif(*(_texture((17, 17)) for _ in range(3))))  # only scale 1 fits


# --- Qabf ----------------------------------------------------------------------------------
def test_qabf_point_source_halved_by_hand() -> None:
    a = np.zeros((3, 3))
    a[1, 1] = 4.0
    # Zero-padded Sobel of a point: the 8 neighbours get |S| in {4 sqrt 2, 8}, the centre 0.
    # F = A / 2 halves every strength (G = 0.5 -> Q_g = 0.9994 / 2) and keeps every angle
    # (A_alpha = 1 -> Q_alpha = 0.9879 / (1 + exp(-22 * 0.2))). B = 0 has zero weight.
    expected = 0.9994 / 2 * 0.9879 / (1 + math.exp(-4.4))
    assert qabf(a / 2, a, np.zeros((3, 3))) == pytest.approx(expected, rel=1e-12)


def test_qabf_identical_images_reach_the_ceiling() -> None:
    x = RNG.integers(0, 6, (20, 20)) * 50.0  # Sobel strengths are 0 or >= 50
    ceiling = 0.9994 * 0.9879 / (1 + math.exp(-22 * (1 - 0.8)))  # ~0.9753
    assert qabf(x, x, x) == pytest.approx(ceiling, rel=1e-12)


def test_qabf_matches_literal_spec_and_uses_zero_padding(
    triplet: tuple[np.ndarray, ...], spec_ref: ModuleType
) -> None:
    f, a, b = triplet
    assert qabf(f, a, b) == pytest.approx(spec_ref.qabf_reference(f, a, b), rel=1e-12)
    # A constant image has edges only at the zero-padded border.
    c = np.full((8, 8), 100.0)
    assert qabf(c, c, c) == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-4.4)), rel=1e-12)


def test_qabf_all_zero_is_zero() -> None:
    z = np.zeros((5, 5))
    assert qabf(z, z, z) == 0.0


# --- Nabf ----------------------------------------------------------------------------------
def test_nabf_step_over_flat_sources_by_hand() -> None:
    z = np.zeros((3, 3))
    f = np.array([[0.0, 0.0, 8.0]] * 3)
    # Reflect-101 extension of the row (0, 0, 8) is (0 | 0, 0, 8 | 0): gv = (x[j+1] - x[j-1]) / 2
    # = (0, 4, 0), gh = 0. Artifact pixels: the middle column (g_F = 4 > g_A = g_B = 0).
    # There G = 0 and alpha_F = pi/2 vs alpha_A = 0 -> A = 0, so
    # Q = sqrt(0.9999 / (1 + e^9.5) * 0.9995 / (1 + e^11)); every weight is w_min = 0.001.
    q = math.sqrt(0.9999 / (1 + math.exp(9.5)) * 0.9995 / (1 + math.exp(11)))
    expected = 3 * 2 * (1 - q) * 0.001 / (9 * 2 * 0.001)
    assert nabf(f, z, z) == pytest.approx(expected, rel=1e-12)
    assert nabf(f, z, z, w_min=0.0) == 0.0  # 0/0 without strong source edges


def test_nabf_identical_is_zero_and_matches_literal_spec(
    triplet: tuple[np.ndarray, ...], spec_ref: ModuleType
) -> None:
    f, a, b = triplet
    assert nabf(a, a, a) == 0.0
    assert nabf(f, a, b) == pytest.approx(spec_ref.nabf_reference(f, a, b), rel=1e-12)
    assert nabf(f, a, b, w_min=0.0) == pytest.approx(spec_ref.nabf_reference(f, a, b, w_min=0.0), rel=1e-12)
    sharpened = np.clip(2.0 * f - 0.5 * (a + b), 0, 255)
    assert nabf(sharpened, a, b) > nabf(f, a, b)


# --- SSIM ----------------------------------------------------------------------------------
def test_ssim_identical_images() -> None:
    x = _texture()
    assert ssim(x, x, x) == 2.0
    assert ssim(x, x, x, variant="cddfuse") == 2.0
    assert ssim(x, x, x, variant="matlab") == 1.0


def test_ssim_constant_images_by_hand() -> None:
    f, a, b = np.full((16, 16), 100.0), np.full((16, 16), 50.0), np.full((16, 16), 100.0)
    # no variance: cs = C2 / C2 = 1; l(A, F) = (2 * 100 * 50 + C1) / (100^2 + 50^2 + C1)
    for variant, data_range, weight in (("standard", 255, 1.0), ("cddfuse", 2, 1.0), ("matlab", 1, 0.5)):
        c1 = (0.01 * data_range) ** 2
        expected = weight * ((2 * 100 * 50 + c1) / (100**2 + 50**2 + c1) + 1.0)
        # rel 1e-9: E[x^2] - E[x]^2 leaves ~1e-12 of rounding next to cddfuse's C2 = 3.6e-3
        assert ssim(f, a, b, variant=variant) == pytest.approx(expected, rel=1e-9)


def test_ssim_standard_matches_literal_spec(triplet: tuple[np.ndarray, ...], spec_ref: ModuleType) -> None:
    f, a, b = triplet
    expected = spec_ref.ssim_standard_reference(a, f) + spec_ref.ssim_standard_reference(b, f)
    assert ssim(f, a, b) == pytest.approx(expected, rel=1e-12)


def test_ssim_cddfuse_matches_skimage_with_border_crop(triplet: tuple[np.ndarray, ...]) -> None:
    metrics = pytest.importorskip("skimage.metrics")
    f, a, b = triplet
    # skimage averages the map after cropping (win_size - 1) // 2 = 3 pixels on each side.
    expected = sum(
        metrics.structural_similarity(f, x, data_range=2, win_size=7) for x in (a, b)
    )
    assert ssim(f, a, b, variant="cddfuse") == pytest.approx(expected, rel=1e-10)


def test_ssim_small_images_clip_the_window_and_bad_variant_raises(spec_ref: ModuleType) -> None:
    x, y = _texture((6, 9)), _texture((6, 9))
    assert math.isfinite(ssim(x, y, y))
    assert ssim(x, y, y) == pytest.approx(2 * spec_ref.ssim_standard_reference(y, x, win=5), rel=1e-12)
    with pytest.raises(ConfigError):
        ssim(x, y, y, variant="pyiqa")


# --- MS-SSIM -------------------------------------------------------------------------------
def test_ms_ssim_identical_and_constant_by_hand() -> None:
    x = _texture((64, 64))
    assert ms_ssim(x, x, x) == pytest.approx(2.0, rel=1e-14)
    f, a = np.full((40, 40), 100.0), np.full((40, 40), 50.0)
    # cs = 1 at every scale; only the last-scale luminance remains: l ** 0.1333
    c1 = (0.01 * 255) ** 2
    lum = (2 * 100 * 50 + c1) / (100**2 + 50**2 + c1)
    assert ms_ssim(f, a, f) == pytest.approx(lum**0.1333 + 1.0, rel=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (8, 8), (33, 20)])
def test_ms_ssim_small_images_are_finite(shape: tuple[int, int]) -> None:
    f, a, b = (_texture(shape, smooth=False) for _ in range(3))
    value = ms_ssim(f, a, b)
    assert math.isfinite(value) and 0.0 <= value <= 2.0


def test_ms_ssim_degrades_with_noise(triplet: tuple[np.ndarray, ...]) -> None:
    _, a, _ = triplet
    noisy = np.clip(a + RNG.normal(0, 25, a.shape), 0, 255)
    assert ms_ssim(noisy, a, a) < ms_ssim(a, a, a)


def test_ssim_maps_shapes() -> None:
    from edgefuse.metrics.structural import ssim_maps

    x = _texture((30, 40))
    lum, cs = ssim_maps(x, x)
    assert lum.shape == cs.shape == (20, 30)  # 'valid' windows of an 11x11 Gaussian
    np.testing.assert_allclose(lum, 1.0, rtol=1e-14)
    np.testing.assert_allclose(cs, 1.0, rtol=1e-14)
    assert ssim_maps(x, x, "cddfuse")[0].shape == (24, 34)
    assert ssim_maps(x, x, "matlab")[0].shape == (30, 40)


def test_ssim_matlab_matches_replicate_padded_gaussian(
    triplet: tuple[np.ndarray, ...], spec_ref: ModuleType
) -> None:
    f, a, b = triplet
    expected = (spec_ref.ssim_matlab_reference(a, f) + spec_ref.ssim_matlab_reference(b, f)) / 2
    assert ssim(f, a, b, variant="matlab") == pytest.approx(expected, rel=1e-9)
