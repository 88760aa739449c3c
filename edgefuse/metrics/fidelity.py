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
from typing import NamedTuple

import cv2
import numpy as np

from edgefuse.errors import ShapeMismatchError
from edgefuse.metrics._blocks import valid_row_blocks
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


def _filter_valid(x: np.ndarray, n: int, scratch: bool = False) -> np.ndarray:
    """Correlate ``x`` with the scale window of size ``n`` and keep the 'valid' part.

    ``scratch=True`` lets OpenCV write the result over ``x`` (a temporary the caller owns)
    instead of allocating a fresh output.
    """
    h2d, g1d = _window(n)
    dst = x if scratch else None
    if g1d is not None:
        out = cv2.sepFilter2D(x, cv2.CV_64F, g1d, g1d, dst=dst)
    else:
        out = cv2.filter2D(x, cv2.CV_64F, h2d, dst=dst)
    r = n // 2
    return out[r : x.shape[0] - r, r : x.shape[1] - r]


def _reduce(x: np.ndarray, n: int) -> np.ndarray:
    """Next scale's image: 'valid' filtering with THIS scale's window, then [::2, ::2]."""
    blocks = [_filter_valid(x[rows], n)[::2, ::2] for rows in valid_row_blocks(x.shape[0], n)]
    return np.concatenate(blocks)  # blocks start at even output rows, so [::2] stays aligned


class _Moments(NamedTuple):
    """Local statistics of one image block at one scale."""

    mu: np.ndarray  # local mean
    var: np.ndarray  # local variance, clamped >= 0
    flat: np.ndarray  # var < eps


def _moments(x: np.ndarray, n: int) -> _Moments:
    """Local mean and (clamped >= 0) variance of ``x`` under the size-``n`` window ('valid')."""
    mu = _filter_valid(x, n)
    var = _filter_valid(x * x, n, scratch=True)
    var -= mu * mu
    np.maximum(var, 0.0, out=var)
    return _Moments(mu, var, var < _EPS)


def _sum_log10_1p(u: np.ndarray, group: int = 8) -> float:
    """Return sum(log10(1 + u)) for u >= 0 with one log per ``group`` terms; ``u`` is overwritten.

    log10 dominates VIF's arithmetic; the log of a product of 8 factors replaces 8 logs.
    Every factor is below ~1e4 for 8-bit data (u <= sigma^2 / sigma_n^2), so products stay
    far inside the float64 range and add only ~1e-15 relative rounding; if a product still
    overflows, the direct sum is used.
    """
    v = u.reshape(-1)
    v += 1.0
    pad = (-v.size) % group
    if pad:
        v = np.concatenate([v, np.ones(pad)])
    prod = v.reshape(-1, group).prod(axis=1)
    if np.isfinite(prod).all():
        return float(np.log10(prod).sum())
    return float(np.log10(v).sum())


def _scale_terms(ref: np.ndarray, dist: np.ndarray, n: int, dm: _Moments) -> tuple[float, float]:
    """Numerator and denominator sums of one block at one scale (PAPER_SPEC section 4 clamps).

    The spec's sequential masks (sigma1^2 < eps: g = 0, sv = sigma2^2; sigma2^2 < eps: g = 0,
    sv = 0; g < 0: g = 0, sv = sigma2^2; then sv >= eps) collapse to: zero g on those masks,
    then sv = max(sigma2^2 - g sigma12, eps). Both variances are already clamped >= 0.
    """
    rm = _moments(ref, n)
    s12 = _filter_valid(ref * dist, n, scratch=True)
    s12 -= rm.mu * dm.mu
    g = rm.var + _EPS
    np.divide(s12, g, out=g)
    zero = rm.flat | dm.flat  # no reference signal, or nothing left in the fused image
    zero |= g < 0  # anti-correlated detail counts as noise
    g[zero] = 0.0
    sv = np.multiply(g, s12, out=s12)
    np.subtract(dm.var, sv, out=sv)
    np.maximum(sv, _EPS, out=sv)
    sv += SIGMA_N_SQ
    g *= g
    g *= rm.var
    g /= sv
    num = _sum_log10_1p(g)
    s1 = rm.var
    s1[rm.flat] = 0.0
    s1 /= SIGMA_N_SQ
    return num, _sum_log10_1p(s1)


def _vifp_many(dist: np.ndarray, refs: tuple[np.ndarray, ...]) -> list[float]:
    """VIFp(ref, dist) for each reference; the distorted image's statistics are shared.

    Scales whose window no longer fits the shrunk image are skipped. Each scale is processed
    in row blocks (see ``_blocks``), the distorted image's moments once per block.
    """
    if min(dist.shape) < _SCALE_SIZES[0]:
        raise ShapeMismatchError(
            f"VIF needs images of at least {_SCALE_SIZES[0]}x{_SCALE_SIZES[0]} pixels; got {dist.shape}."
        )
    sums = np.zeros((len(refs), 2))  # per reference: numerator, denominator
    images = (dist, *refs)
    for s, n in enumerate(_SCALE_SIZES):
        if s > 0:
            if min(images[0].shape) < n:
                break
            images = tuple(_reduce(x, n) for x in images)
        if min(images[0].shape) < n:
            break
        for rows in valid_row_blocks(images[0].shape[0], n):
            dm = _moments(images[0][rows], n)
            for i, ref in enumerate(images[1:]):
                sums[i] += _scale_terms(ref[rows], images[0][rows], n, dm)
    return [float(num / den) if den > 0 else CONSTANT_REFERENCE_VIFP for num, den in sums]


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
    return _vifp_many(dist, (ref,))[0]


def vif(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Fusion VIF = VIFp(A, F) + VIFp(B, F) (references = sources, distorted = fused).

    The fused image's pyramid and local moments are computed once and shared by both terms.
    """
    f, a, b = as_triplet(f, a, b)
    return sum(_vifp_many(f, (a, b)))


__all__ = ["CONSTANT_REFERENCE_VIFP", "SIGMA_N_SQ", "vif", "vifp"]
