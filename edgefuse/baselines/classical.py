"""Classical fusion baselines: average, max and Laplacian-pyramid fusion of luminance.

Every method fuses the luminance (Y of BT.601 YCrCb) of the colour-role image with the grey
source and keeps the colour-role image's chroma. This is the usual recipe for IR/visible
fusion and for MRI with PET/SPECT pseudo-colour (e.g. CDDFuse's and Text-IF's test scripts
merge Y with the visible Cb/Cr); a grey colour-role image (CT) simply stays grey.

Laplacian pyramid fusion: Burt & Adelson, "The Laplacian pyramid as a compact image code"
(IEEE Trans. Commun. 1983), with the fusion rule of Burt & Kolczynski (ICCV 1993) in its
common simplified form: the detail coefficient of larger magnitude wins, the coarsest band
is averaged.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgefuse.errors import ShapeMismatchError


def _check(vis: np.ndarray, ir: np.ndarray) -> None:
    if vis.ndim != 3 or vis.shape[2] != 3 or ir.ndim != 2 or vis.shape[:2] != ir.shape:
        raise ShapeMismatchError(
            f"expected vis HxWx3 and ir HxW of the same size, got vis {vis.shape} and ir {ir.shape}"
        )


def split_luma(vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 RGB [0,1] -> (Y, CrCb) with OpenCV's BT.601 YCrCb (chroma centred at 0.5)."""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(vis, dtype=np.float32), cv2.COLOR_RGB2YCrCb)
    return ycrcb[:, :, 0], ycrcb[:, :, 1:]


def merge_luma(y: np.ndarray, crcb: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_luma`; the result is clipped to [0, 1]."""
    ycrcb = np.concatenate([y[:, :, None], crcb], axis=2).astype(np.float32)
    return np.clip(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), 0.0, 1.0)


def fuse_average(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Mean of visible luminance and IR; float32 inputs/outputs in [0, 1]."""
    _check(vis, ir)
    y, crcb = split_luma(vis)
    return merge_luma(0.5 * (y + ir), crcb)


def fuse_max(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Per-pixel maximum of visible luminance and IR."""
    _check(vis, ir)
    y, crcb = split_luma(vis)
    return merge_luma(np.maximum(y, ir), crcb)


def pyramid_levels(height: int, width: int, max_levels: int = 5, min_size: int = 8) -> int:
    """Number of pyramid levels so that the coarsest band is at least ``min_size`` pixels."""
    levels = 1
    size = min(height, width)
    while levels < max_levels and size // 2 >= min_size:
        size //= 2
        levels += 1
    return levels


def laplacian_pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    """Bands from fine to coarse; the last entry is the Gaussian residual."""
    bands = []
    current = img.astype(np.float32)
    for _ in range(levels - 1):
        down = cv2.pyrDown(current)
        up = cv2.pyrUp(down, dstsize=(current.shape[1], current.shape[0]))
        bands.append(current - up)
        current = down
    bands.append(current)
    return bands


def collapse_pyramid(bands: list[np.ndarray]) -> np.ndarray:
    """Rebuild the image from :func:`laplacian_pyramid` bands."""
    img = bands[-1]
    for band in reversed(bands[:-1]):
        img = cv2.pyrUp(img, dstsize=(band.shape[1], band.shape[0])) + band
    return img


def fuse_laplacian(vis: np.ndarray, ir: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Laplacian-pyramid fusion of luminance: max-magnitude details, averaged base."""
    _check(vis, ir)
    y, crcb = split_luma(vis)
    n = levels or pyramid_levels(*ir.shape)
    pa, pb = laplacian_pyramid(ir, n), laplacian_pyramid(y, n)
    fused = [np.where(np.abs(a) >= np.abs(b), a, b) for a, b in zip(pa[:-1], pb[:-1])]
    fused.append(0.5 * (pa[-1] + pb[-1]))
    return merge_luma(collapse_pyramid(fused), crcb)
