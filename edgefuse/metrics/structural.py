"""Structural similarity for fusion: SSIM variants (Wang et al. 2004) and MS-SSIM (Wang et al. 2003).

SSIM: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
error visibility to structural similarity", IEEE TIP 2004. MS-SSIM: Z. Wang, E. P. Simoncelli,
A. C. Bovik, "Multiscale structural similarity for image quality assessment", Asilomar 2003.
Fusion scripts disagree on window, border handling and data range, so SSIM numbers are not
comparable across papers (PAPER_SPEC section 4); the variants offered are listed in
``README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgefuse.errors import ConfigError
from edgefuse.metrics._blocks import valid_row_blocks
from edgefuse.metrics._checks import as_triplet

K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass(frozen=True)
class _Recipe:
    """One SSIM convention."""

    window: str  # "gaussian" or "uniform"
    size: int  # nominal window side
    sigma: float  # Gaussian sigma (unused for "uniform")
    data_range: float  # L in C1 = (K1 L)^2, C2 = (K2 L)^2
    border: str  # "valid": mean over windows inside the image; "replicate": full map, padded
    sample_cov: bool  # scale (co)variances by n / (n - 1), n = size^2
    source_weight: float  # 1.0: SSIM(A,F) + SSIM(B,F); 0.5: their average


_RECIPES = {
    # Wang et al. 2004 recipe, reported as a sum over the two sources.
    "standard": _Recipe("gaussian", 11, 1.5, 255.0, "valid", False, 1.0),
    # S5: skimage structural_similarity defaults on float images (7x7 uniform window, sample
    # covariance, 3-px border crop = the 'valid' windows, data_range 2 from the float dtype).
    "cddfuse": _Recipe("uniform", 7, 0.0, 2.0, "valid", True, 1.0),
    # S6: MATLAB ssim (imgaussfilt sigma 1.5, 11x11, replicate padding, mean of the full map,
    # DynamicRange 1 for doubles), averaged over the two sources.
    "matlab": _Recipe("gaussian", 11, 1.5, 1.0, "replicate", False, 0.5),
}
SSIM_VARIANTS = tuple(_RECIPES)


def _recipe(variant: str) -> _Recipe:
    """Look up an SSIM variant or raise ``ConfigError`` naming the valid ones."""
    try:
        return _RECIPES[variant]
    except KeyError:
        raise ConfigError(
            f"unknown SSIM variant {variant!r}; use one of {', '.join(SSIM_VARIANTS)}."
        ) from None


def _window_size(recipe: _Recipe, shape: tuple[int, ...]) -> int:
    """Window side: the nominal one, clipped (to an odd size) for 'valid' maps of small images."""
    if recipe.border != "valid":
        return recipe.size
    size = min(recipe.size, *shape)
    return size if size % 2 else size - 1


def _kernel_1d(recipe: _Recipe, size: int) -> np.ndarray:
    """Normalised 1-D factor of the separable window."""
    if recipe.window == "uniform":
        return np.full(size, 1.0 / size)
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * recipe.sigma**2))
    return g / g.sum()


def _blur(x: np.ndarray, kernel: np.ndarray, scratch: bool = False) -> np.ndarray:
    """Separable local average, 'valid' part only (windows fully inside ``x``).

    ``scratch=True`` lets OpenCV overwrite ``x`` (a caller-owned temporary) with the result
    instead of allocating a fresh output.
    """
    out = cv2.sepFilter2D(x, cv2.CV_64F, kernel, kernel, dst=x if scratch else None)
    r = kernel.size // 2
    return out[r : x.shape[0] - r, r : x.shape[1] - r]


def _ssim_terms(
    x: np.ndarray, y: np.ndarray, kernel: np.ndarray, recipe: _Recipe
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numerators and denominators of the luminance and contrast-structure maps ('valid' part).

    l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) and
    cs = (2 s_xy + C2) / (s_x^2 + s_y^2 + C2), with local (co)variances E[xy] - E[x] E[y]
    under the window. s_x^2 + s_y^2 comes from one blur of x^2 + y^2 (the blur is linear);
    the arithmetic is in place.
    """
    mx, my = _blur(x, kernel), _blur(y, kernel)
    mxy = mx * my
    msq = np.multiply(mx, mx, out=mx)
    msq += my * my
    cov = _blur(x * y, kernel, scratch=True)
    cov -= mxy
    sq = x * x
    sq += y * y
    var_sum = _blur(sq, kernel, scratch=True)
    var_sum -= msq
    if recipe.sample_cov and kernel.size > 1:
        n = kernel.size**2
        cov *= n / (n - 1.0)
        var_sum *= n / (n - 1.0)
    c1 = (K1 * recipe.data_range) ** 2
    c2 = (K2 * recipe.data_range) ** 2
    mxy *= 2.0
    mxy += c1
    msq += c1
    cov *= 2.0
    cov += c2
    var_sum += c2
    return mxy, msq, cov, var_sum


def _prepare(
    x: np.ndarray, y: np.ndarray, recipe: _Recipe
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window of ``recipe`` for this size, and x, y edge-padded if its map is full-size."""
    kernel = _kernel_1d(recipe, _window_size(recipe, x.shape))
    if recipe.border == "replicate":  # full map = 'valid' map of the replicate-padded images
        r = kernel.size // 2
        x, y = np.pad(x, r, mode="edge"), np.pad(y, r, mode="edge")
    return x, y, kernel


def ssim_maps(x: np.ndarray, y: np.ndarray, variant: str = "standard") -> tuple[np.ndarray, np.ndarray]:
    """Luminance map l and contrast-structure map cs of two grey images (SSIM map = l * cs).

    Args:
        x: Grey image (float64, 2-D).
        y: Grey image of the same shape.
        variant: ``"standard"``, ``"cddfuse"`` or ``"matlab"``.

    Returns:
        ``(l, cs)``; 'valid'-size for standard/cddfuse, full size for matlab.
    """
    recipe = _recipe(variant)
    l_num, l_den, cs_num, cs_den = _ssim_terms(*_prepare(x, y, recipe), recipe)
    return l_num / l_den, cs_num / cs_den


def _mean_map(x: np.ndarray, y: np.ndarray, recipe: _Recipe, part: str = "ssim") -> float:
    """Mean of the SSIM map (``part="ssim"``) or of the cs map (``"cs"``), by row blocks."""
    x, y, kernel = _prepare(x, y, recipe)
    total, count = 0.0, 0
    for rows in valid_row_blocks(x.shape[0], kernel.size):
        l_num, l_den, cs_num, cs_den = _ssim_terms(x[rows], y[rows], kernel, recipe)
        if part == "ssim":
            cs_num *= l_num
            cs_den *= l_den
        total += float(np.divide(cs_num, cs_den, out=cs_num).sum())
        count += cs_num.size
    return total / count


def ssim(f: np.ndarray, a: np.ndarray, b: np.ndarray, variant: str = "standard") -> float:
    """Fusion SSIM of F against both sources.

    Args:
        f: Fused grey image in [0, 255].
        a: Infrared source.
        b: Visible source.
        variant: ``"standard"`` (default): 11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03,
            L 255, mean of the 'valid' map, SSIM(A,F) + SSIM(B,F). ``"cddfuse"`` (S5):
            7x7 uniform window, sample covariance, 3-pixel border crop, data_range 2, sum.
            ``"matlab"`` (S6): 11x11 Gaussian sigma 1.5, replicate padding, mean of the
            full map, DynamicRange 1, (SSIM(A,F) + SSIM(B,F)) / 2.

    Returns:
        The fused SSIM; 2 (1 for "matlab") when F = A = B. Images smaller than the window
        use a window clipped to the largest odd size that fits (same Gaussian sigma).
    """
    recipe = _recipe(variant)
    f, a, b = as_triplet(f, a, b)
    return recipe.source_weight * (_mean_map(a, f, recipe) + _mean_map(b, f, recipe))


def _pool2(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling; an odd last row/column is edge-replicated first.

    Edge replication is what Wang's ``msssim.m`` (2x2 mean via imfilter 'symmetric', then
    [1:2:end]) amounts to; pytorch_msssim/DTPF zero-pad instead. Even sizes (all MSRS
    scales) agree.
    """
    h, w = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def _ms_ssim_pair(x: np.ndarray, y: np.ndarray) -> float:
    """MS-SSIM = l_M^{w_M} prod_j cs_j^{w_j}, negative terms clamped to 0 (as pytorch_msssim)."""
    recipe = _RECIPES["standard"]
    value = 1.0
    last = len(MS_SSIM_WEIGHTS) - 1
    for weight in MS_SSIM_WEIGHTS[:last]:
        value *= max(_mean_map(x, y, recipe, part="cs"), 0.0) ** weight
        x, y = _pool2(x), _pool2(y)
    return value * max(_mean_map(x, y, recipe), 0.0) ** MS_SSIM_WEIGHTS[last]


def ms_ssim(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """5-scale MS-SSIM summed over the sources, MS-SSIM(A,F) + MS-SSIM(B,F) (as DTPF).

    Each scale uses the standard SSIM recipe (11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03,
    L 255, 'valid' maps) and weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; scales are
    2x2 average-pooled. Coarse scales narrower than 11 px (any image under ~176 px reaches
    one) use the window clipped to the largest odd size that fits, down to 1x1 (where
    cs = 1), instead of failing like pytorch_msssim or stopping early.

    Args:
        f: Fused grey image in [0, 255].
        a: Infrared source.
        b: Visible source.

    Returns:
        The summed MS-SSIM in [0, 2]; 2 for F = A = B.
    """
    f, a, b = as_triplet(f, a, b)
    return _ms_ssim_pair(a, f) + _ms_ssim_pair(b, f)
