"""Image-space parity measures between a reference fused image and a candidate (8-bit, as displayed)."""

from __future__ import annotations

import numpy as np

from edgefuse.data.images import u8_from_float
from edgefuse.metrics.structural import ssim_maps

PSNR_CAP_DB = 100.0  # identical 8-bit images; JSON has no infinity


def u8_hwc(fused: np.ndarray) -> np.ndarray:
    """A graph output (1,3,H,W) float in [0,1] -> HxWx3 uint8 RGB."""
    arr = np.asarray(fused, dtype=np.float32)
    if arr.ndim == 4:
        arr = arr[0]
    return u8_from_float(arr.transpose(1, 2, 0))


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two fused images, given as graph outputs or uint8 HxWx3; capped at 100."""
    x = (u8_hwc(a) if a.dtype != np.uint8 else a).astype(np.float64)
    y = (u8_hwc(b) if b.dtype != np.uint8 else b).astype(np.float64)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10 * np.log10(255.0 ** 2 / mse)))


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over the three channels (11x11 Gaussian, L=255) of two uint8 HxWx3 images."""
    vals = []
    for c in range(3):
        lum, cs = ssim_maps(a[..., c].astype(np.float64), b[..., c].astype(np.float64))
        vals.append(float(np.mean(lum * cs)))
    return float(np.mean(vals))
