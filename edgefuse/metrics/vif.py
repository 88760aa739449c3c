"""Multi-scale pixel-domain visual information fidelity (VIFp) for image fusion.

VIFp is Sheikh & Bovik, "Image information and visual quality", IEEE TIP 2006, in the
pixel-domain multi-scale form of their ``vifp_mscale.m``, as used by the MATLAB toolbox of
Linfeng Tang (S6) and CDDFuse's ``Evaluator.compare_viff`` (S5). PAPER_SPEC section 4 fixes
every detail reproduced here: sigma_n^2 = 2; scale s = 1..4 uses an N x N Gaussian window,
N = 2^(5-s) + 1 (17, 9, 5, 3), sigma = N / 5, built like MATLAB ``fspecial`` (values below
eps * max zeroed, normalised to sum 1); for s > 1 both images are first filtered 'valid' with
THIS scale's window and subsampled [::2, ::2]; local statistics are 'valid' filtered.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from edgefuse.errors import ShapeMismatchError
from edgefuse.metrics._checks import as_triplet

SIGMA_N_SQ = 2.0
_EPS = 1e-10
_SCALE_SIZES = (17, 9, 5, 3)
# S5 maps the 0/0 of a reference without local variance (den = 0) to VIFp = 1; we keep that.
CONSTANT_REFERENCE_VIFP = 1.0


@lru_cache(maxsize=None)
def _window(n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """MATLAB ``fspecial('gaussian', n, n/5)`` as a 2-D kernel plus its 1-D factor.

    The 1-D factor is ``None`` when the eps-zeroing made the kernel non-separable (never for
    the four sizes used here, but kept so the window stays exactly the MATLAB one).
    """
    sd = n / 5.0
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sd * sd))
    h = np.outer(g, g)
    zeroed = h < np.finfo(np.float64).eps * h.max()
    h[zeroed] = 0.0
    return h / h.sum(), (None if zeroed.any() else g / g.sum())


def _filter_valid(x: np.ndarray, n: int) -> np.ndarray:
    """Correlate ``x`` with the scale window of size ``n`` and keep the 'valid' part."""
    h2d, g1d = _window(n)
    if g1d is not None:
        out = cv2.sepFilter2D(x, cv2.CV_64F, g1d, g1d, borderType=cv2.BORDER_REFLECT)
    else:
        out = cv2.filter2D(x, cv2.CV_64F, h2d, borderType=cv2.BORDER_REFLECT)
    r = n // 2
    return out[r : x.shape[0] - r, r : x.shape[1] - r]


def _scale_inputs(x: np.ndarray) -> list[np.ndarray]:
    """The image each scale computes its statistics on; scales too small for the window stop."""
    out: list[np.ndarray] = []
    for s, n in enumerate(_SCALE_SIZES):
        if s > 0:
            if min(x.shape) < n:
                break
            x = _filter_valid(x, n)[::2, ::2]
        if min(x.shape) < n:
            break
        out.append(x)
    return out


def _moments(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and (clamped >= 0) variance of ``x`` under the size-``n`` window."""
    mu = _filter_valid(x, n)
    var = _filter_valid(x * x, n) - mu * mu
    return mu, np.maximum(var, 0.0)


def _scale_terms(
    ref: np.ndarray, dist: np.ndarray, n: int, dist_moments: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """Numerator and denominator sums of one scale, with the clamps of PAPER_SPEC section 4."""
    mu1, s1 = _moments(ref, n)
    mu2, s2 = dist_moments
    s12 = _filter_valid(ref * dist, n) - mu1 * mu2
    g = s12 / (s1 + _EPS)
    sv = s2 - g * s12
    flat_ref = s1 < _EPS  # no reference signal: nothing to transfer
    g[flat_ref] = 0.0
    sv[flat_ref] = s2[flat_ref]
    s1 = np.where(flat_ref, 0.0, s1)
    flat_dist = s2 < _EPS
    g[flat_dist] = 0.0
    sv[flat_dist] = 0.0
    negative = g < 0  # anti-correlated detail counts as noise
    sv[negative] = s2[negative]
    g[negative] = 0.0
    sv = np.maximum(sv, _EPS)
    num = float(np.log10(1.0 + g * g * s1 / (sv + SIGMA_N_SQ)).sum())
    den = float(np.log10(1.0 + s1 / SIGMA_N_SQ).sum())
    return num, den


def _vifp_from_scales(refs: list[np.ndarray], dists: list[np.ndarray], dist_moments: list) -> float:
    """VIFp = sum of scale numerators / sum of scale denominators."""
    num = den = 0.0
    for ref, dist, n, mom in zip(refs, dists, _SCALE_SIZES, dist_moments):
        s_num, s_den = _scale_terms(ref, dist, n, mom)
        num += s_num
        den += s_den
    return num / den if den > 0 else CONSTANT_REFERENCE_VIFP


def _prepare(x: np.ndarray) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Per-scale images of a distorted (fused) image and their local moments."""
    scales = _scale_inputs(x)
    if not scales:
        raise ShapeMismatchError(
            f"VIF needs images of at least {_SCALE_SIZES[0]}x{_SCALE_SIZES[0]} pixels; got {x.shape}."
        )
    return scales, [_moments(s, n) for s, n in zip(scales, _SCALE_SIZES)]


def vifp(ref: np.ndarray, dist: np.ndarray) -> float:
    """Multi-scale pixel VIF of a distorted image against one reference.

    Args:
        ref: Reference grey image in [0, 255] (a fusion source), at least 17x17.
        dist: Distorted grey image (the fused image), same shape.

    Returns:
        VIFp; 1 for identical textured images. Scales whose window no longer fits the
        (shrunk) image are skipped. A reference without local variance anywhere gives
        0/0, defined as 1 (S5's NaN rule).
    """
    dist, ref, _ = as_triplet(dist, ref, ref)
    d_scales, d_moments = _prepare(dist)
    return _vifp_from_scales(_scale_inputs(ref), d_scales, d_moments)


def vif(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Fusion VIF = VIFp(A, F) + VIFp(B, F) (references = sources, distorted = fused).

    The fused image's pyramid and local moments are computed once and shared by both terms.
    """
    f, a, b = as_triplet(f, a, b)
    f_scales, f_moments = _prepare(f)
    return _vifp_from_scales(_scale_inputs(a), f_scales, f_moments) + _vifp_from_scales(
        _scale_inputs(b), f_scales, f_moments
    )


__all__ = ["CONSTANT_REFERENCE_VIFP", "SIGMA_N_SQ", "vif", "vifp"]
