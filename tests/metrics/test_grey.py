"""Tests for grey_from_rgb, the PAPER_SPEC section 4 reading convention."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.metrics import grey_from_rgb


def test_pure_colours_follow_bt601_then_round() -> None:
    img = np.zeros((1, 4, 3), np.uint8)
    img[0, 0] = (255, 0, 0)  # 0.299 * 255 = 76.245 -> 76
    img[0, 1] = (0, 255, 0)  # 0.587 * 255 = 149.685 -> 150
    img[0, 2] = (0, 0, 255)  # 0.114 * 255 = 29.07 -> 29
    img[0, 3] = (10, 20, 30)  # 2.99 + 11.74 + 3.42 = 18.15 -> 18
    out = grey_from_rgb(img)
    assert out.dtype == np.float64 and out.shape == (1, 4)
    np.testing.assert_array_equal(out, [[76, 150, 29, 18]])


def test_channel_order_is_rgb() -> None:
    img = np.zeros((1, 1, 3), np.uint8)
    img[..., 2] = 255  # blue in RGB order
    assert grey_from_rgb(img)[0, 0] == 29


def test_grey_stored_as_three_channels_is_unchanged() -> None:
    v = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(grey_from_rgb(np.dstack([v, v, v])), v.astype(np.float64))
    np.testing.assert_array_equal(grey_from_rgb(v[..., None]), v.astype(np.float64))


def test_two_d_input_is_returned_rounded_as_float64() -> None:
    x = np.array([[0.4, 1.6], [2.5, 254.9]])
    out = grey_from_rgb(x)
    np.testing.assert_array_equal(out, [[0.0, 2.0], [2.0, 255.0]])  # half to even, like np.round
    assert out.dtype == np.float64


def test_matches_float_opencv_reading_of_bgr_file_data() -> None:
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    expected = np.round(cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2GRAY))
    np.testing.assert_array_equal(grey_from_rgb(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), expected)


@pytest.mark.parametrize("shape", [(4, 4, 4), (4, 4, 2), (4,), (2, 4, 4, 3)])
def test_bad_shapes_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeMismatchError):
        grey_from_rgb(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    "img",
    [
        np.zeros((4, 4), bool),
        np.full((4, 4), 300.0),
        np.full((4, 4), -1, np.int32),
        np.full((4, 4), np.nan),
        np.array([["a"]]),
    ],
)
def test_bad_values_or_dtypes_raise(img: np.ndarray) -> None:
    with pytest.raises(ConfigError):
        grey_from_rgb(img)
