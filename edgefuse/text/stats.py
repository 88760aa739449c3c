"""Cheap image statistics that the rule-based annotator turns into degradation events.

All functions take uint8 images (``HxW`` grey or ``HxWx3`` RGB, the convention of
:mod:`edgefuse.data.images`) and return plain floats on a 0..1 (or grey-level) scale, so
the thresholds in :mod:`edgefuse.text.annotate` read the same for any image size.

Sources:
    - Immerkær, "Fast Noise Variance Estimation", CVIU 64(2), 1996: the 3x3 Laplacian-
      difference mask and the ``sqrt(pi/2) / (6 (W-2)(H-2))`` scaling.
    - Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy", ICPR 2000:
      variance of the Laplacian as a focus (blur) measure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from edgefuse.errors import ShapeMismatchError

# Immerkær's mask: the difference of two Laplacians; it cancels linear image structure.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
# Immerkær's estimate is inflated by edges; pixels whose gradient is in the top
# fraction are left out (the edge-masked variant of Tang et al., 2007).
_NOISE_EDGE_QUANTILE = 0.9
# Width (pixels) of the moving average that removes slow column/row mean changes
# before the stripe score looks at column-to-column jumps.
_STRIPE_SMOOTH = 15
_SATURATED_LEVEL = 250  # luma >= this counts as clipped highlight
_DARK_LEVEL = 20  # luma <= this counts as near black


@dataclass(frozen=True)
class ImageStats:
    """Statistics of one image (all on a 0..1 scale unless said otherwise).

    Attributes:
        mean: mean luma.
        contrast: RMS contrast, the standard deviation of luma.
        saturated: fraction of pixels with luma >= 250/255 (clipped highlights).
        dark: fraction of pixels with luma <= 20/255.
        colourfulness: mean HSV saturation (0 for grey images).
        noise: Immerkær noise standard deviation, in grey levels (0..255).
        sharpness: variance of the Laplacian divided by the luma variance
            (dimensionless, so that dark, low-contrast images are not called blurred).
        stripes: stripe score in grey levels: amplitude of column- or row-mean jumps
            that repeat in both image halves (0 when the halves disagree).
    """

    mean: float
    contrast: float
    saturated: float
    dark: float
    colourfulness: float
    noise: float
    sharpness: float
    stripes: float

    def as_dict(self) -> dict[str, float]:
        """Plain ``dict`` of the fields, rounded for logs and JSON."""
        return {k: round(v, 5) for k, v in asdict(self).items()}


def luma(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image (or the grey image itself) as uint8.

    OpenCV's fixed-point conversion: within one grey level of the float formula, and
    several times faster, which matters for the annotator's time budget.
    """
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    raise ShapeMismatchError(f"expected an HxW or HxWx3 image, got shape {img.shape}")


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkær (1996) noise standard deviation of a uint8 grey image, in grey levels."""
    h, w = grey.shape
    if h < 3 or w < 3:
        return 0.0
    response = np.abs(cv2.filter2D(grey, cv2.CV_32F, _IMMERKAER))[1:-1, 1:-1]
    gx = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3))
    gy = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3))
    grad = cv2.add(gx, gy)[1:-1, 1:-1]  # |gx| + |gy|, saturating at 255 (only strong edges)
    # A quantile by partial sort of a subsample: exact enough, and ~10x cheaper.
    sample = grad[::4, ::4].ravel()
    k = int(_NOISE_EDGE_QUANTILE * (sample.size - 1))
    limit = int(np.partition(sample, k)[k])
    flat = cv2.threshold(grad, limit, 255, cv2.THRESH_BINARY_INV)[1]  # 255 where grad <= limit
    if cv2.countNonZero(flat) == 0:
        return 0.0
    return float(math.sqrt(math.pi / 2.0) * cv2.mean(np.ascontiguousarray(response), flat)[0] / 6.0)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian over the luma variance (higher = sharper)."""
    var = float(cv2.meanStdDev(grey)[1][0, 0]) ** 2
    if var < 1e-6:
        return 0.0
    lap_std = float(cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))[1][0, 0])
    return lap_std**2 / var


def _robust_std(x: np.ndarray) -> float:
    """Median absolute deviation scaled to a Gaussian standard deviation."""
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def _high_pass(profile: np.ndarray) -> np.ndarray:
    kernel = np.ones(_STRIPE_SMOOTH, dtype=np.float32) / _STRIPE_SMOOTH
    padded = np.pad(profile, _STRIPE_SMOOTH // 2, mode="edge")
    return profile - np.convolve(padded, kernel, mode="valid")


def _stripe_profile_score(a: np.ndarray, b: np.ndarray) -> float:
    """Amplitude of the jumps shared by two mean profiles (0 if they do not agree)."""
    if a.size < 2 * _STRIPE_SMOOTH:
        return 0.0
    hp_a, hp_b = _high_pass(a), _high_pass(b)
    sa, sb = float(hp_a.std()), float(hp_b.std())
    if sa < 1e-6 or sb < 1e-6:
        return 0.0
    corr = float(np.mean((hp_a - hp_a.mean()) * (hp_b - hp_b.mean())) / (sa * sb))
    # The robust spread ignores a few strong columns (poles, trees) and keeps the
    # dense column-to-column offsets of fixed-pattern noise.
    return max(corr, 0.0) * min(_robust_std(hp_a), _robust_std(hp_b))


def stripe_score(grey: np.ndarray) -> float:
    """Sensor stripe score in grey levels (fixed-pattern column or row offsets).

    Column means are high-passed (minus a 15-pixel moving average) separately for the top
    and bottom half of the image. A scene object changes the column means of one half; a
    sensor stripe shifts whole columns, so both halves show the same jumps. The score is
    the robust (median absolute deviation) jump amplitude times the (positive) correlation
    of the halves; rows likewise, and the larger of the two is returned. Added column
    noise of standard deviation 4 grey levels scores about 2.5-3.3 on MSRS and RoadScene
    infrared images, whose clean scores stay below 2.
    """
    h, w = grey.shape
    top, bottom = (
        cv2.reduce(grey[: h // 2], 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F),
        cv2.reduce(grey[h // 2 :], 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F),
    )
    left, right = (
        cv2.reduce(grey[:, : w // 2], 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F),
        cv2.reduce(np.ascontiguousarray(grey[:, w // 2 :]), 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F),
    )
    cols = _stripe_profile_score(top.ravel(), bottom.ravel())
    rows = _stripe_profile_score(left.ravel(), right.ravel())
    return max(cols, rows)


def image_stats(img: np.ndarray, mask: np.ndarray | None = None) -> ImageStats:
    """All :class:`ImageStats` of an ``HxW`` or ``HxWx3`` uint8 image.

    Args:
        img: the image.
        mask: optional boolean ``HxW`` foreground (e.g. the head in a medical slice).
            Intensity statistics then use only the masked pixels, and noise, sharpness
            and stripes the bounding box of the mask, so that a black background does not
            dilute them.
    """
    if mask is not None:
        if mask.shape != img.shape[:2]:
            raise ShapeMismatchError(f"mask shape {mask.shape} does not match image {img.shape[:2]}")
        ys, xs = np.nonzero(mask)
        if ys.size:
            box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            img, mask = np.ascontiguousarray(img[box]), np.ascontiguousarray(mask[box])
        else:
            mask = None  # nothing in the foreground: fall back to the whole image
    grey = luma(img)
    mask_u8 = mask.astype(np.uint8) if mask is not None else None
    n = cv2.countNonZero(mask_u8) if mask_u8 is not None else grey.size
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(grey, mask=mask_u8))
    bright = cv2.threshold(grey, _SATURATED_LEVEL - 1, 255, cv2.THRESH_BINARY)[1]  # >= 250
    dark = cv2.threshold(grey, _DARK_LEVEL, 255, cv2.THRESH_BINARY_INV)[1]  # <= 20
    if mask_u8 is not None:
        bright, dark = (
            cv2.bitwise_and(bright, bright, mask=mask_u8),
            cv2.bitwise_and(dark, dark, mask=mask_u8),
        )
    colourfulness = 0.0
    if img.ndim == 3:
        sat = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[:, :, 1])
        colourfulness = cv2.mean(sat, mask_u8)[0] / 255.0
    return ImageStats(
        mean=mean / 255.0,
        contrast=std / 255.0,
        saturated=cv2.countNonZero(bright) / max(n, 1),
        dark=cv2.countNonZero(dark) / max(n, 1),
        colourfulness=colourfulness,
        noise=noise_sigma(grey),
        sharpness=sharpness(grey),
        stripes=stripe_score(grey),
    )


def foreground_mask(*images: np.ndarray, level: int = _DARK_LEVEL) -> np.ndarray:
    """Pixels brighter than ``level`` (grey levels) in any of the images (same HxW)."""
    masks = [luma(im) > level for im in images]
    return np.logical_or.reduce(masks)
