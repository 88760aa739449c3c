"""Edge-transfer fusion metrics: Qabf (Xydeas & Petrovic 2000) and Nabf (Kumar's artifact measure).

Qabf: C. S. Xydeas and V. Petrovic, "Objective image fusion performance measure",
Electronics Letters 36(4), 2000, as coded in S6 ``analysis_Qabf.m`` and S5 ``Evaluator.Qabf``.
Nabf: B. K. Shreyamsha Kumar's modification of Petrovic's fusion-artifact measure
(``objective_fusion_perform_fn.m``, used by S6 ``analysis_nabf.m``). Details follow
PAPER_SPEC section 4; ``README.md`` lists where scripts differ.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgefuse.errors import ConfigError
from edgefuse.metrics._blocks import same_row_blocks
from edgefuse.metrics._checks import as_triplet

_HALF_PI = math.pi / 2.0
_TINY = 1e-300  # divisor floor: only ever hit where both strengths are 0

# Qabf Sobel pair of S6 (h3 and h1). Correlation instead of convolution flips the sign of
# both responses, which changes neither the magnitude nor atan(Sy / Sx).
_QABF_SX = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
_QABF_SY = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
# Qabf sigmoid constants (Xydeas & Petrovic 2000): Gamma, kappa, sigma for strength/orientation.
_QG = (0.9994, -15.0, 0.5)
_QA = (0.9879, -22.0, 0.8)

# Nabf Sobel pair of Kumar's ``sobel_fn`` (scaled by 1/8) and its constants.
_NABF_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8.0
_NABF_H = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64) / 8.0
_NG = (0.9999, -19.0, 0.5)  # written as Gamma / (1 + exp(-19 (x - 0.5))) in the original
_NA = (0.9995, -22.0, 0.5)
_NABF_TD = 2.0  # edge-strength threshold for the weights
_NABF_LG = 1.5  # weight exponent
NABF_W_MIN = 0.001  # weight of weak edges in Kumar's MATLAB code; Python ports use 0

_Grad = tuple[np.ndarray, ...]  # (gv, gh, g) of Nabf's Sobel, possibly masked to 1-D


def _qabf_edges(x: np.ndarray, keep: slice) -> tuple[np.ndarray, np.ndarray]:
    """Sobel strength g and orientation alpha = atan(Sy / Sx) (pi/2 where Sx = 0), zero padding.

    Zero padding is MATLAB ``conv2(..., 'same')``; replicate padding changes Qabf by ~4 %.
    ``x`` is a row block with its halo; only rows ``keep`` of the result are returned.
    """
    sx = cv2.filter2D(x, cv2.CV_64F, _QABF_SX, borderType=cv2.BORDER_CONSTANT)[keep]
    sy = cv2.filter2D(x, cv2.CV_64F, _QABF_SY, borderType=cv2.BORDER_CONSTANT)[keep]
    g = sx * sx
    g += sy * sy
    np.sqrt(g, out=g)
    vertical = sx == 0
    sx[vertical] = 1.0
    alpha = np.divide(sy, sx, out=sy)
    np.arctan(alpha, out=alpha)
    alpha[vertical] = _HALF_PI
    return g, alpha


def _strength_ratio_qabf(g_src: np.ndarray, g_f: np.ndarray) -> np.ndarray:
    """G = g_F/g_X if g_X > g_F, g_X/g_F if g_X < g_F, and g_F itself where equal.

    The "= g_F where equal" branch is a quirk of the original code that every
    implementation (S5, S6) keeps; it only matters where both strengths are equal and < ~1.
    Computed as min/max (0/tiny = 0 where both are 0), then the quirk is copied in.
    """
    ratio = _min_over_max(g_src, g_f)
    np.copyto(ratio, g_f, where=g_src == g_f)
    return ratio


def _min_over_max(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min(x, y) / max(x, y) for x, y >= 0, and 0 where the smaller one is 0."""
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    np.maximum(hi, _TINY, out=hi)
    lo /= hi
    return lo


def _sigmoid_(x: np.ndarray, gamma: float, kappa: float, sigma: float) -> np.ndarray:
    """Gamma / (1 + exp(kappa (x - sigma))), computed in place in ``x``."""
    x -= sigma
    x *= kappa
    np.exp(x, out=x)
    x += 1.0
    return np.divide(gamma, x, out=x)


def _qabf_preservation(
    g_src: np.ndarray, a_src: np.ndarray, g_f: np.ndarray, a_f: np.ndarray
) -> np.ndarray:
    """Edge preservation Q^{XF} = Q_g(G) * Q_alpha(1 - |alpha_X - alpha_F| / (pi/2)) of source X."""
    q = _sigmoid_(_strength_ratio_qabf(g_src, g_f), *_QG)
    orientation = np.subtract(a_src, a_f)
    np.abs(orientation, out=orientation)
    orientation *= -1.0 / _HALF_PI
    orientation += 1.0
    q *= _sigmoid_(orientation, *_QA)
    return q


def qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Gradient-based fusion quality Qabf (Xydeas & Petrovic 2000), higher is better.

    Qabf = sum(Q^{AF} g_A + Q^{BF} g_B) / sum(g_A + g_B) (weights w = g, L = 1).

    Args:
        f: Fused grey image in [0, 255].
        a: Infrared source.
        b: Visible source.

    Returns:
        Qabf in [0, ~0.976]; F identical to both sources scores 0.9994 * 0.9879 /
        (1 + exp(-4.4)) ~ 0.9753 where gradients are >= 1. When A and B are all zero
        (no edge at all, even at the zero-padded border) the 0/0 is defined as 0.
    """
    f, a, b = as_triplet(f, a, b)
    num = den = 0.0
    for take, keep in same_row_blocks(f.shape[0]):
        g_f, a_f = _qabf_edges(f[take], keep)
        for x in (a, b):
            g_x, a_x = _qabf_edges(x[take], keep)
            q = _qabf_preservation(g_x, a_x, g_f, a_f)
            q *= g_x  # in place, and no np.dot: BLAS would bring its own threading into play
            num += float(q.sum())
            den += float(g_x.sum())
    return num / den if den > 0 else 0.0


def _nabf_gradients(x: np.ndarray, keep: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kumar's Sobel/8 responses gv, gh and strength g = sqrt(gh^2 + gv^2) of rows ``keep``.

    ``per_extn_im_fn`` extends the image by copying the 2nd and the next-to-last row and
    column (MATLAB source: ``xout_ext(1,:) = xout_ext(3,:)``), i.e. OpenCV's
    BORDER_REFLECT_101, not an edge replicate. ``x`` is a row block with its halo.
    """
    gv = cv2.filter2D(x, cv2.CV_64F, _NABF_V, borderType=cv2.BORDER_REFLECT_101)[keep]
    gh = cv2.filter2D(x, cv2.CV_64F, _NABF_H, borderType=cv2.BORDER_REFLECT_101)[keep]
    return gv, gh, np.sqrt(gh * gh + gv * gv)


def _nabf_orientation(gv: np.ndarray, gh: np.ndarray) -> np.ndarray:
    """atan(gv / gh): +-pi/2 where gh = 0 (MATLAB atan(+-Inf)), 0 where both are 0."""
    flat_h = gh == 0
    alpha = np.arctan(gv / np.where(flat_h, 1.0, gh))
    alpha[flat_h] = np.sign(gv[flat_h]) * _HALF_PI
    return alpha


def _nabf_loss(src: _Grad, fused: _Grad) -> np.ndarray:
    """1 - Q^{XF}, Kumar's Q = sqrt(Q_g Q_alpha), G = min/max strength (0 if either is 0).

    Both arguments are ``(gv, gh, g)`` triples restricted to the pixels being scored.
    """
    strength = _min_over_max(src[2], fused[2])
    delta = np.abs(_nabf_orientation(*src[:2]) - _nabf_orientation(*fused[:2]))
    orientation = np.abs(delta - _HALF_PI) / _HALF_PI
    return 1.0 - np.sqrt(_sigmoid_(strength, *_NG) * _sigmoid_(orientation, *_NA))


def _nabf_weights(g: np.ndarray, w_min: float) -> np.ndarray:
    """w = g^1.5 (as g sqrt(g), much cheaper than a power) where g >= 2, else ``w_min``."""
    return np.where(g >= _NABF_TD, g * np.sqrt(g), w_min)


def _nabf_block(grad_f: _Grad, grad_a: _Grad, grad_b: _Grad, w_min: float) -> tuple[float, float]:
    """Numerator and denominator of Nabf over one row block; Q only where the indicator holds."""
    w_a, w_b = _nabf_weights(grad_a[2], w_min), _nabf_weights(grad_b[2], w_min)
    den = float(w_a.sum() + w_b.sum())
    keep = (grad_f[2] > grad_a[2]) & (grad_f[2] > grad_b[2])
    if not keep.any():
        return 0.0, den
    at_f = tuple(x[keep] for x in grad_f)
    num = (_nabf_loss(tuple(x[keep] for x in grad_a), at_f) * w_a[keep]).sum()
    num += (_nabf_loss(tuple(x[keep] for x in grad_b), at_f) * w_b[keep]).sum()
    return float(num), den


def nabf(f: np.ndarray, a: np.ndarray, b: np.ndarray, w_min: float = NABF_W_MIN) -> float:
    """Kumar's modified fusion-artifact measure Nabf (lower is better).

    Nabf = sum 1[g_F > g_A and g_F > g_B] ((1 - Q^{AF}) w_A + (1 - Q^{BF}) w_B) / sum(w_A + w_B)
    with w_X = g_X^1.5 where g_X >= 2 and ``w_min`` elsewhere. Q is only evaluated on the
    pixels the indicator keeps.

    Args:
        f: Fused grey image in [0, 255], at least 2x2.
        a: Infrared source.
        b: Visible source.
        w_min: Weight of weak-edge pixels: 0.001 in the MATLAB original (S6), 0 in most
            Python ports.

    Returns:
        Nabf in [0, 1]; 0 when F adds no edge stronger than both sources (e.g. F = A = B,
        or any pixel-wise average of A and B), and 0 for the 0/0 of ``w_min = 0`` without
        any strong source edge.
    """
    if not w_min >= 0:
        raise ConfigError(f"Nabf w_min must be >= 0 (0.001 as MATLAB, 0 as Python ports); got {w_min!r}.")
    f, a, b = as_triplet(f, a, b, min_side=2)
    num = den = 0.0
    for take, keep in same_row_blocks(f.shape[0]):
        grads = [_nabf_gradients(x[take], keep) for x in (f, a, b)]
        block_num, block_den = _nabf_block(*grads, w_min)
        num += block_num
        den += block_den
    return num / den if den > 0 else 0.0
