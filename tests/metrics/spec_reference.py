"""Slow, literal transcriptions of the PAPER_SPEC section 4 formulas, used only as test oracles.

They share no code with ``edgefuse.metrics``: scipy ``convolve2d`` instead of OpenCV,
``np.pad`` for the borders, the spec's sequential masks as written, one log per pixel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import convolve2d


def matlab_gauss(n: int, sd: float) -> np.ndarray:
    """MATLAB fspecial('gaussian', n, sd)."""
    r = (n - 1) / 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    h = np.exp(-(x * x + y * y) / (2 * sd * sd))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def vifp_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """vifp_mscale as in PAPER_SPEC section 4, sigma_n^2 = 2."""
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (5 - scale) + 1
        win = matlab_gauss(n, n / 5)
        if scale > 1:
            ref = convolve2d(ref, win, mode="valid")[::2, ::2]
            dist = convolve2d(dist, win, mode="valid")[::2, ::2]
        mu1 = convolve2d(ref, win, mode="valid")
        mu2 = convolve2d(dist, win, mode="valid")
        s1 = convolve2d(ref * ref, win, mode="valid") - mu1 * mu1
        s2 = convolve2d(dist * dist, win, mode="valid") - mu2 * mu2
        s12 = convolve2d(ref * dist, win, mode="valid") - mu1 * mu2
        s1[s1 < 0] = 0
        s2[s2 < 0] = 0
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        m = s1 < 1e-10
        g[m] = 0
        sv[m] = s2[m]
        s1[m] = 0
        m = s2 < 1e-10
        g[m] = 0
        sv[m] = 0
        m = g < 0
        sv[m] = s2[m]
        g[m] = 0
        sv[sv <= 1e-10] = 1e-10
        num += np.sum(np.log10(1 + g * g * s1 / (sv + 2.0)))
        den += np.sum(np.log10(1 + s1 / 2.0))
    return num / den


def qabf_reference(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Qabf with conv2 'same' (zero padding), as PAPER_SPEC section 4."""
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)

    def edges(x):
        sx = convolve2d(x, h3, mode="same")
        sy = convolve2d(x, h1, mode="same")
        alpha = np.full(x.shape, math.pi / 2)
        nz = sx != 0
        alpha[nz] = np.arctan(sy[nz] / sx[nz])
        return np.sqrt(sx**2 + sy**2), alpha

    def q(gx, ax, gf, af):
        big = np.zeros_like(gx)
        big[gx > gf] = gf[gx > gf] / gx[gx > gf]
        big[gx == gf] = gf[gx == gf]
        big[gx < gf] = gx[gx < gf] / gf[gx < gf]
        orient = 1 - np.abs(ax - af) / (math.pi / 2)
        qg = 0.9994 / (1 + np.exp(-15 * (big - 0.5)))
        qa = 0.9879 / (1 + np.exp(-22 * (orient - 0.8)))
        return qg * qa

    gf, af = edges(f)
    ga, aa = edges(a)
    gb, ab = edges(b)
    return float(np.sum(q(ga, aa, gf, af) * ga + q(gb, ab, gf, af) * gb) / np.sum(ga + gb))


def nabf_reference(f: np.ndarray, a: np.ndarray, b: np.ndarray, w_min: float = 0.001) -> float:
    """Kumar's Nabf, per_extn_im_fn written out with np.pad(mode='reflect') (copies row 2)."""
    vt = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float) / 8
    ht = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float) / 8

    def edges(x):
        ext = np.pad(x, 1, mode="reflect")
        # MATLAB sobel_fn sums x_ext .* template, i.e. correlation = convolution with rot180
        gv = convolve2d(ext, vt[::-1, ::-1], mode="valid")
        gh = convolve2d(ext, ht[::-1, ::-1], mode="valid")
        alpha = np.zeros(x.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.arctan(gv / gh)
        nz = ~((gv == 0) & (gh == 0))
        alpha[nz] = t[nz]
        return np.sqrt(gh**2 + gv**2), alpha

    def q(gx, ax, gf, af):
        ratio = np.zeros_like(gx)
        ok = (gx != 0) & (gf != 0)
        ratio[ok] = np.minimum(gx, gf)[ok] / np.maximum(gx, gf)[ok]
        orient = np.abs(np.abs(ax - af) - math.pi / 2) * 2 / math.pi
        qg = 0.9999 / (1 + np.exp(-19 * (ratio - 0.5)))
        qa = 0.9995 / (1 + np.exp(-22 * (orient - 0.5)))
        return np.sqrt(qg * qa)

    gf, af = edges(f)
    ga, aa = edges(a)
    gb, ab = edges(b)
    wa = np.where(ga >= 2, ga**1.5, w_min)
    wb = np.where(gb >= 2, gb**1.5, w_min)
    na = (gf > ga) & (gf > gb)
    return float(np.sum(na * ((1 - q(ga, aa, gf, af)) * wa + (1 - q(gb, ab, gf, af)) * wb)) / np.sum(wa + wb))


def ssim_standard_reference(x: np.ndarray, y: np.ndarray, win: int = 11) -> float:
    """Mean SSIM map, Gaussian sigma 1.5, 'valid' windows, L = 255."""
    g = np.exp(-((np.arange(win) - (win - 1) / 2) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()

    def blur(z):
        return convolve2d(z, w, mode="valid")

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    smap = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(smap.mean())


def ssim_matlab_reference(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ssim on doubles: imgaussfilt sigma 1.5, 11x11, replicate padding, full map, L = 1."""
    from scipy.ndimage import gaussian_filter

    def blur(z):
        return gaussian_filter(z, 1.5, mode="nearest", truncate=5 / 1.5)  # radius 5 -> 11 taps

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    smap = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(smap.mean())
