"""Row blocks must tile 'valid' and 'same' filtering exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgefuse.metrics._blocks import same_row_blocks, valid_row_blocks


def test_valid_row_blocks_by_hand() -> None:
    # 10 rows, 3-tall window -> 8 output rows; blocks of 4 need input rows 0..5 and 4..9
    assert list(valid_row_blocks(10, 3, rows=4)) == [slice(0, 6), slice(4, 10)]
    assert list(valid_row_blocks(2, 3)) == []


def test_same_row_blocks_by_hand() -> None:
    assert list(same_row_blocks(10, halo=1, rows=4)) == [
        (slice(0, 5), slice(0, 4)),
        (slice(3, 9), slice(1, 5)),
        (slice(7, 10), slice(1, 3)),
    ]


@pytest.mark.parametrize("rows", [1, 2, 5, 64])
def test_blocks_reproduce_whole_image_filtering(rows: int) -> None:
    x = np.random.default_rng(3).uniform(0, 255, (23, 17))
    k = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])
    for border in (cv2.BORDER_CONSTANT, cv2.BORDER_REFLECT_101):
        whole = cv2.filter2D(x, cv2.CV_64F, k, borderType=border)
        blocks = same_row_blocks(23, 1, rows)
        parts = [cv2.filter2D(x[t], cv2.CV_64F, k, borderType=border)[keep] for t, keep in blocks]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    g = cv2.getGaussianKernel(5, 1.0)
    whole = cv2.sepFilter2D(x, cv2.CV_64F, g, g)[2:-2, 2:-2]
    parts = [cv2.sepFilter2D(x[t], cv2.CV_64F, g, g)[2:-2, 2:-2] for t in valid_row_blocks(23, 5, rows)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-14)
