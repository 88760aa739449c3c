"""Image statistics behind the rule annotator, on synthetic images with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from edgefuse.errors import ShapeMismatchError
from edgefuse.text.stats import foreground_mask, image_stats, noise_sigma, sharpness, stripe_score
from tests.helpers import textured


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


def test_immerkaer_noise_estimate_tracks_added_noise():
    flat = np.full((240, 320), 128, np.uint8)
    assert noise_sigma(flat) == 0.0
    for sigma in (2.0, 5.0, 10.0):
        assert noise_sigma(_noisy(flat, sigma)) == pytest.approx(sigma, rel=0.15)


def test_noise_estimate_ignores_smooth_texture():
    smooth = textured(240, 320, seed=3)
    assert noise_sigma(smooth) < 1.0
    assert noise_sigma(_noisy(smooth, 6.0)) == pytest.approx(6.0, rel=0.2)


def test_sharpness_drops_with_blur():
    import cv2

    img = _noisy(textured(240, 320, seed=1), 3.0)
    assert sharpness(cv2.GaussianBlur(img, (0, 0), 3)) < 0.2 * sharpness(img)
    assert sharpness(np.full((10, 10), 7, np.uint8)) == 0.0


def test_stripe_score_sees_column_and_row_offsets_not_texture():
    img = textured(240, 320, seed=2)
    rng = np.random.default_rng(0)
    assert stripe_score(img) < 1.0
    cols = np.clip(img + rng.normal(0, 6, 320)[None, :], 0, 255).astype(np.uint8)
    rows = np.clip(img + rng.normal(0, 6, 240)[:, None], 0, 255).astype(np.uint8)
    assert stripe_score(cols) > 3.0
    assert stripe_score(rows) > 3.0


def test_image_stats_fields():
    grey = np.zeros((50, 60), np.uint8)
    grey[:, 30:] = 255
    s = image_stats(grey)
    assert s.mean == pytest.approx(0.5) and s.saturated == pytest.approx(0.5) and s.dark == pytest.approx(0.5)
    assert s.colourfulness == 0.0
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 200
    assert image_stats(red).colourfulness == pytest.approx(1.0)


def test_masked_stats_use_the_foreground():
    img = np.zeros((100, 100), np.uint8)
    img[30:70, 30:70] = 200
    mask = foreground_mask(img)
    assert mask.sum() == 1600
    s = image_stats(img, mask)
    assert s.mean == pytest.approx(200 / 255) and s.contrast == pytest.approx(0.0)
    assert image_stats(img, np.zeros_like(mask)).mean == pytest.approx(image_stats(img).mean)
    with pytest.raises(ShapeMismatchError, match="mask shape"):
        image_stats(img, mask[:50])


def test_bad_shape():
    with pytest.raises(ShapeMismatchError, match=r"HxW or HxWx3"):
        image_stats(np.zeros((4, 4, 2), np.uint8))
