"""Classical baselines against hand-derived outputs."""

from __future__ import annotations

import numpy as np
import pytest

from edgefuse.baselines.classical import (
    collapse_pyramid,
    fuse_average,
    fuse_laplacian,
    fuse_max,
    laplacian_pyramid,
    pyramid_levels,
    split_luma,
)
from edgefuse.errors import ShapeMismatchError
from tests.helpers import textured


def _grey_rgb(v: np.ndarray) -> np.ndarray:
    return np.repeat(v[:, :, None], 3, axis=2)


def test_average_and_max_on_grey_visible():
    vis = _grey_rgb(np.array([[0.2, 0.8]], np.float32))
    ir = np.array([[0.6, 0.4]], np.float32)
    np.testing.assert_allclose(fuse_average(vis, ir)[..., 0], [[0.4, 0.6]], atol=1e-6)
    np.testing.assert_allclose(fuse_max(vis, ir)[..., 1], [[0.6, 0.8]], atol=1e-6)
    # grey in, grey out: all channels equal
    out = fuse_max(vis, ir)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-6)


def test_colour_chroma_is_kept():
    rng = np.random.default_rng(0)
    vis = rng.uniform(0.3, 0.7, (8, 8, 3)).astype(np.float32)
    ir = rng.uniform(0.2, 0.8, (8, 8)).astype(np.float32)
    _, chroma_in = split_luma(vis)
    for fn in (fuse_average, fuse_max, fuse_laplacian):
        y_out, chroma_out = split_luma(fn(vis, ir))
        np.testing.assert_allclose(chroma_out, chroma_in, atol=2e-3)


def test_pyramid_reconstructs_exactly():
    img = textured(37, 53).astype(np.float32) / 255
    bands = laplacian_pyramid(img, 4)
    assert [b.shape for b in bands] == [(37, 53), (19, 27), (10, 14), (5, 7)]
    np.testing.assert_allclose(collapse_pyramid(bands), img, atol=1e-5)


def test_laplacian_of_identical_sources_is_the_source():
    y = textured(32, 48).astype(np.float32) / 255
    out = fuse_laplacian(_grey_rgb(y), y)
    np.testing.assert_allclose(out[..., 0], y, atol=1e-5)


def test_laplacian_keeps_the_stronger_detail():
    flat = np.full((32, 32), 0.5, np.float32)
    line = flat.copy()
    line[:, 16] = 0.9  # a one-pixel IR line: pure fine-scale detail
    lp = fuse_laplacian(_grey_rgb(flat), line)[..., 0]
    avg = fuse_average(_grey_rgb(flat), line)[..., 0]
    # averaging halves the line (0.2 above the background); max-magnitude detail
    # selection keeps most of it (only the coarsest band is averaged)
    assert avg[:, 16].mean() - 0.5 == pytest.approx(0.2, abs=1e-3)
    assert lp[:, 16].mean() - lp[:, 4].mean() > 0.3


def test_levels():
    assert pyramid_levels(480, 640) == 5
    assert pyramid_levels(16, 16) == 2
    assert pyramid_levels(4, 4) == 1


def test_shape_mismatch():
    with pytest.raises(ShapeMismatchError, match="same size"):
        fuse_average(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5), np.float32))
