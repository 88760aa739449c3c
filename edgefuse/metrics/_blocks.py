"""Row blocks for 'valid' sliding-window computations (private).

Filtering and post-processing a 640x480 float64 image whole creates a dozen fresh 2.4 MB
arrays per call; their page faults and cache misses cost more than the arithmetic. Working
on blocks of output rows (with the window's halo of input rows) keeps every temporary small
and gives bit-for-bit the same 'valid' results.
"""

from __future__ import annotations

from collections.abc import Iterator

BLOCK_ROWS = 64  # even, so [::2] subsampling inside a block stays aligned with the whole


def valid_row_blocks(height: int, window: int, rows: int = BLOCK_ROWS) -> Iterator[slice]:
    """Input-row slices whose 'valid' filtering by a ``window``-tall kernel tiles the output.

    Output rows ``[o0, o1)`` of a 'valid' filter need input rows ``[o0, o1 + window - 1)``.
    Nothing is yielded when the image is shorter than the window.

    Args:
        height: Number of input rows.
        window: Kernel height (odd).
        rows: Output rows per block.
    """
    out_rows = height - window + 1
    for o0 in range(0, max(out_rows, 0), rows):
        yield slice(o0, min(out_rows, o0 + rows) + window - 1)


def same_row_blocks(
    height: int, halo: int = 1, rows: int = BLOCK_ROWS
) -> Iterator[tuple[slice, slice]]:
    """Row blocks for a 'same'-size filter of half-height ``halo``.

    Yields ``(take, keep)``: filter ``x[take]`` (the block plus up to ``halo`` real rows on
    each side) with the image's border mode, then keep ``result[keep]``. At the top and
    bottom of the image the block has no halo there, so the border mode applies exactly as
    for the whole image (zero padding, and reflect-101 too: a taken block of an image of 2+
    rows always has 2+ rows).
    """
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        t0, t1 = max(r0 - halo, 0), min(r1 + halo, height)
        yield slice(t0, t1), slice(r0 - t0, r1 - t0)
