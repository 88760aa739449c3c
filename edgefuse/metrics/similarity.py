"""Full-reference similarity of two 8-bit fused images (a candidate against its reference), as displayed.

Unlike the fusion metrics of this package, which score a fused image against its two sources,
these compare two fused images of the same pair: an exported or accelerated artefact against
the FP32 model it came from. Both take uint8 HxWx3 RGB images; a float graph output
(``(1, 3, H, W)`` in [0, 1]) is first made 8-bit with ``edgefuse.data.images.u8_hwc``, the one
rounding rule.
"""

from __future__ import annotations

import numpy as np

from edgefuse.data.images import u8_hwc
from edgefuse.metrics.structural import ssim_maps

PSNR_CAP_DB = 100.0  # identical 8-bit images; JSON has no infinity


def _u8(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.uint8 else u8_hwc(x)


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two fused images, given as graph outputs or uint8 HxWx3; capped at 100."""
    x, y = _u8(a).astype(np.float64), _u8(b).astype(np.float64)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10 * np.log10(255.0 ** 2 / mse)))


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over the three channels (11x11 Gaussian, L=255) of two fused images (graph outputs or uint8)."""
    x, y = _u8(a), _u8(b)
    vals = []
    for c in range(3):
        lum, cs = ssim_maps(x[..., c].astype(np.float64), y[..., c].astype(np.float64))
        vals.append(float(np.mean(lum * cs)))
    return float(np.mean(vals))
