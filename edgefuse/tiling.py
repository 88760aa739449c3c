"""Tiled fusion of large frames with bounded memory: overlapping tiles, blended with linear ramps.

A whole 8000x6000 frame through a CNN needs many GiB of activations; DTPF's own inference
slides a window over large inputs and blends the overlaps. Here a frame above
``max_untiled`` pixels is cut into ``tile`` x ``tile`` pieces (multiples of the model's size
rule) that overlap by ``overlap`` pixels; each piece is fused on its own and the pieces are
blended with separable linear ramps over the overlaps, so no seam shows. Only one band of
tile rows is held in float at a time: memory is the uint8 frame plus
O(tile x width), whatever the height.

The models are local CNNs with one global term (a channel gate from the spatial mean of a
feature map), so tiles differ a little from the whole frame where that mean differs; large
tiles keep it small (see the measurement in ``tests/test_tiling.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgefuse.data.images import round_u8

Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]

TILE = 1024
OVERLAP = 128
MAX_UNTILED_PIXELS = 2048 * 2048


def tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``0..n`` with at least ``overlap`` shared."""
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step))
    starts.append(n - tile)  # the last tile ends at the border (it may overlap its neighbour more)
    return starts


def ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """A tile's 1-D blend weight: rising over the first ``overlap`` pixels, falling over the last."""
    w = np.ones(length, np.float32)
    if overlap <= 0:
        return w
    edge = (np.arange(min(overlap, length), dtype=np.float32) + 0.5) / overlap
    if ramp_start:
        w[: edge.size] = np.minimum(w[: edge.size], edge)
    if ramp_end:
        w[length - edge.size:] = np.minimum(w[length - edge.size:], edge[::-1])
    return w


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def fuse_tiled(fuse: Fuser, vis: np.ndarray, ir: np.ndarray, tile: int = TILE, overlap: int = OVERLAP,
               multiple: int = 1) -> np.ndarray:
    """Fuse ``vis`` (HxWx3 uint8) and ``ir`` (HxW uint8) tile by tile; return HxWx3 uint8.

    ``tile`` is rounded up to a multiple of ``multiple`` (the model's size rule), so tiles
    need no padding except where the frame itself is smaller than a tile.
    """
    h, w = ir.shape
    tile = _round_up(max(tile, 2 * overlap + multiple), multiple)
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    wx = [ramp(tw, overlap, x > 0, x + tw < w) for x in xs]
    wy = [ramp(th, overlap, y > 0, y + th < h) for y in ys]
    norm_x = np.zeros(w, np.float32)
    for x, r in zip(xs, wx):
        norm_x[x:x + tw] += r
    norm_y = np.zeros(h, np.float32)
    for y, r in zip(ys, wy):
        norm_y[y:y + th] += r
    out = np.empty((h, w, 3), np.uint8)
    band = np.zeros((th, w, 3), np.float32)  # rows ys[i] .. ys[i] + th of the current tile row
    for i, y in enumerate(ys):
        for x, rx in zip(xs, wx):
            piece = fuse(vis[y:y + th, x:x + tw], ir[y:y + th, x:x + tw]).astype(np.float32)
            piece *= (wy[i][:, None] * rx[None, :])[:, :, None]
            band[:, x:x + tw] += piece
        done = (ys[i + 1] if i + 1 < len(ys) else y + th) - y  # rows no later tile row touches
        norm = norm_y[y:y + done, None, None] * norm_x[None, :, None]
        out[y:y + done] = round_u8(band[:done] / norm)
        band[: th - done] = band[done:].copy()
        band[th - done:] = 0.0
    return out


def tiled_fuser(fuse: Fuser, multiple: int = 1, tile: int = TILE, overlap: int = OVERLAP,
                max_untiled: int = MAX_UNTILED_PIXELS, static_hw: tuple[int, int] | None = None) -> Fuser:
    """Wrap ``fuse`` so that frames above ``max_untiled`` pixels are fused in tiles.

    For a fixed-shape artefact (``static_hw``), frames larger than that shape are tiled with
    tiles that fit it, instead of being refused.
    """
    if static_hw is not None:
        tile = min(tile, *static_hw)
        overlap = min(overlap, tile // 4)

    def fuse_any(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        if ir.ndim == 2:
            h, w = ir.shape
            too_big = static_hw is not None and (h > static_hw[0] or w > static_hw[1])
            if too_big or h * w > max_untiled:
                return fuse_tiled(fuse, vis, ir, tile, overlap, multiple)
        return fuse(vis, ir)

    return fuse_any
