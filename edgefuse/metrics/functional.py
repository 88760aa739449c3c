"""Statistical fusion metrics: EN, SD, SF, AG, MI, CC, SCD and PSNR as pure functions.

All functions take float64 grey images in [0, 255] (``f`` fused, ``a`` infrared source,
``b`` visible source, see :func:`edgefuse.metrics.grey_from_rgb`) and return a Python float.
Formulas follow PAPER_SPEC section 4; the conventions (and where the MATLAB toolbox of
Linfeng Tang (S6) and CDDFuse's ``Evaluator`` (S5) differ) are listed in ``README.md``.
"""

from __future__ import annotations

import math

import numpy as np

from edgefuse.errors import ConfigError
from edgefuse.metrics._checks import as_grey, as_triplet, grey_levels

# MSE (in [0, 255]^2 units) and peak^2 are floored here so identical images give a large
# finite PSNR instead of inf + a divide-by-zero warning.
PSNR_MSE_FLOOR = 1e-10
_PEAK = 255.0
_LEVELS = 256


def _entropy(counts: np.ndarray, total: int, base: float) -> float:
    """Shannon entropy of a histogram ``counts`` (empty bins skipped), in log ``base``."""
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum() / math.log(base)) + 0.0  # + 0.0 turns -0.0 into 0.0


def en(f: np.ndarray) -> float:
    """Entropy EN = -sum_l p_l log2 p_l of the 256-bin grey histogram of ``f`` (bits).

    MATLAB ``entropy`` (S6) and S5 ``np.bincount`` agree. A constant image gives 0.
    """
    levels = grey_levels(as_grey(f, "F (fused)"))
    return _entropy(np.bincount(levels, minlength=_LEVELS), levels.size, 2.0)


def sd(f: np.ndarray) -> float:
    """Standard deviation SD = sqrt(mean((F - mean F)^2)), the population std (S5, S6)."""
    return float(np.std(as_grey(f, "F (fused)")))


def sf(f: np.ndarray) -> float:
    """Spatial frequency SF = sqrt(RF^2 + CF^2).

    RF^2 is the mean of the M(N-1) squared horizontal neighbour differences and CF^2 the
    mean of the (M-1)N squared vertical ones, each over its own count (S5, S6).
    """
    x = as_grey(f, "F (fused)", min_side=2)
    rf2 = np.mean(np.square(x[:, 1:] - x[:, :-1]))
    cf2 = np.mean(np.square(x[1:, :] - x[:-1, :]))
    return float(np.sqrt(rf2 + cf2))


def ag(f: np.ndarray, convention: str = "matlab") -> float:
    """Average gradient AG = sum sqrt((Gx^2 + Gy^2) / 2) / divisor.

    Gx, Gy are MATLAB ``gradient`` values: central differences (x[i+1]-x[i-1])/2 inside,
    one-sided differences at the borders (``np.gradient`` computes the same).

    Args:
        f: Fused grey image, at least 2x2.
        convention: ``"matlab"`` divides by (M-1)(N-1) as S6 ``AG_evaluation.m``;
            ``"cddfuse"`` divides by MN (S5 takes the mean).

    Returns:
        The average gradient; 0 for a constant image.
    """
    x = as_grey(f, "F (fused)", min_side=2)
    gy, gx = np.gradient(x)
    gx *= gx  # in place from here: sqrt((gx^2 + gy^2) / 2) without fresh temporaries
    gy *= gy
    gx += gy
    gx *= 0.5
    total = float(np.sqrt(gx, out=gx).sum())
    m, n = x.shape
    if convention == "matlab":
        return total / ((m - 1) * (n - 1))
    if convention == "cddfuse":
        return total / (m * n)
    raise ConfigError(f"unknown AG convention {convention!r}; use 'matlab' or 'cddfuse'.")


def _mutual_information(x_levels: np.ndarray, f_levels: np.ndarray, base: float) -> float:
    """MI(X, F) = H(X) + H(F) - H(X, F) from the 256x256 joint histogram and its marginals."""
    n = x_levels.size
    joint = np.bincount(x_levels * _LEVELS + f_levels, minlength=_LEVELS * _LEVELS)
    table = joint.reshape(_LEVELS, _LEVELS)  # rows: X level, columns: F level
    h_x = _entropy(table.sum(axis=1), n, base)
    h_f = _entropy(table.sum(axis=0), n, base)
    return h_x + h_f - _entropy(joint, n, base)


def mi(f: np.ndarray, a: np.ndarray, b: np.ndarray, base: float = 2.0) -> float:
    """Mutual information MI = MI(A, F) + MI(B, F) on 256-bin histograms.

    Args:
        f: Fused grey image.
        a: Infrared source.
        b: Visible source.
        base: Logarithm base. 2 (default) gives bits as S6 ``MI_evaluation.m``;
            ``math.e`` gives nats as S5 (sklearn ``mutual_info_score``), ln 2 ~ 0.693 times
            the bit value.

    Returns:
        The summed mutual information; 0 when F or both sources are constant.
    """
    if not base > 0 or base == 1:
        raise ConfigError(f"MI log base must be positive and != 1; got {base!r} (use 2.0 or math.e).")
    f, a, b = as_triplet(f, a, b)
    f_levels = grey_levels(f)
    return _mutual_information(grey_levels(a), f_levels, base) + _mutual_information(
        grey_levels(b), f_levels, base
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (MATLAB ``corr2``); defined as 0 when either input is constant.

    Sums of products use ``np.einsum``, which needs no temporary array (and no BLAS).
    """
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # exact test: a rounded mean would leave tiny residuals
        return 0.0
    xc = x - x.mean()
    yc = y - y.mean()
    sxx = float(np.einsum("ij,ij->", xc, xc))
    syy = float(np.einsum("ij,ij->", yc, yc))
    den = math.sqrt(sxx * syy)
    return float(np.einsum("ij,ij->", xc, yc)) / den if den > 0 else 0.0


def cc(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Correlation coefficient CC = (r(A, F) + r(B, F)) / 2 (S5; S6 has a mean(A) typo in r(B, F)).

    A constant image has correlation 0 with anything.
    """
    f, a, b = as_triplet(f, a, b)
    return (_pearson(a, f) + _pearson(b, f)) / 2.0


def scd(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Sum of the correlations of differences, SCD = r(F - B, A) + r(F - A, B).

    Aslantas & Bendes 2015; S5 and S6 ``analysis_SCD.m``. Each r is Pearson's (``corr2``),
    0 when an argument is constant (e.g. F = A + const makes F - A constant).
    """
    f, a, b = as_triplet(f, a, b)
    return _pearson(f - b, a) + _pearson(f - a, b)


def psnr(f: np.ndarray, a: np.ndarray, b: np.ndarray, convention: str = "fusion") -> float:
    """Peak signal-to-noise ratio of F against both sources, MSE = (MSE(F,A) + MSE(F,B)) / 2.

    Args:
        f: Fused grey image.
        a: Infrared source.
        b: Visible source.
        convention: ``"fusion"`` (S6 and DTPF): images scaled to [0, 1] and
            PSNR = 20 log10(255 / sqrt(MSE_01)), i.e. the usual PSNR + 10 log10(255^2)
            = +48.13 dB (papers report ~60-65 dB). ``"standard"``:
            10 log10(255^2 / MSE_255). ``"cddfuse"`` (S5): 10 log10(max(F)^2 / MSE_255).

    Returns:
        PSNR in dB. MSE_255 and max(F)^2 are floored at ``PSNR_MSE_FLOOR`` (1e-10), so
        identical images give 148.13 dB (standard), 196.26 dB (fusion) and
        10 log10(max(F)^2 / 1e-10) (cddfuse) instead of inf.
    """
    f, a, b = as_triplet(f, a, b)
    mse = (np.mean(np.square(f - a)) + np.mean(np.square(f - b))) / 2.0
    mse = max(float(mse), PSNR_MSE_FLOOR)
    if convention == "fusion":
        return 20.0 * math.log10(_PEAK / math.sqrt(mse / _PEAK**2))
    if convention == "standard":
        return 10.0 * math.log10(_PEAK**2 / mse)
    if convention == "cddfuse":
        peak2 = max(float(np.max(f)) ** 2, PSNR_MSE_FLOOR)
        return 10.0 * math.log10(peak2 / mse)
    raise ConfigError(f"unknown PSNR convention {convention!r}; use 'fusion', 'standard' or 'cddfuse'.")
