"""The metric registry (METRICS), the default metric order, and the evaluate_* entry points."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgefuse.errors import ConfigError
from edgefuse.metrics._checks import as_triplet
from edgefuse.metrics.fidelity import vif
from edgefuse.metrics.functional import ag, cc, en, mi, psnr, scd, sd, sf
from edgefuse.metrics.gradient_quality import nabf, qabf
from edgefuse.metrics.grey import grey_from_rgb
from edgefuse.metrics.structural import ms_ssim, ssim
from edgefuse.registry import Registry


@dataclass(frozen=True)
class MetricInfo:
    """A registered fusion metric.

    Attributes:
        name: Canonical name (the key in result dicts).
        fn: ``fn(f)`` when ``needs_sources`` is False, else ``fn(f, a, b)``; float64 grey
            images in [0, 255], returns a float.
        higher_is_better: False only for artifact measures (Nabf).
        needs_sources: Whether the metric compares F with the sources A and B.
        description: One line: what it measures and its convention.
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_sources: bool
    description: str

    def __call__(self, f: np.ndarray, a: np.ndarray | None = None, b: np.ndarray | None = None) -> float:
        """Evaluate the metric; ``a`` and ``b`` are required when ``needs_sources``."""
        if not self.needs_sources:
            return float(self.fn(f))
        if a is None or b is None:
            raise ConfigError(f"metric {self.name!r} compares F with both sources; pass a and b.")
        return float(self.fn(f, a, b))


METRICS: Registry[MetricInfo] = Registry[MetricInfo]("metric")


def _register(
    name: str, fn: Callable[..., float], needs_sources: bool, description: str, *aliases: str,
    higher_is_better: bool = True,
) -> None:
    """Add one metric under ``name``, its lower-case form and ``aliases``."""
    keys = tuple(dict.fromkeys(k for k in (name.lower(), *aliases) if k != name))
    METRICS.add(name, MetricInfo(name, fn, higher_is_better, needs_sources, description), aliases=keys)


_register("EN", en, False, "entropy of the 256-bin histogram of F, bits")
_register("SD", sd, False, "population standard deviation of F")
_register("SF", sf, False, "spatial frequency sqrt(RF^2 + CF^2)")
_register("AG", ag, False, "average gradient (MATLAB gradient), divided by (M-1)(N-1)")
_register("MI", mi, True, "MI(A,F) + MI(B,F) on 256-bin histograms, bits")
_register("SCD", scd, True, "sum of the correlations of differences (Aslantas & Bendes 2015)")
_register("VIF", vif, True, "multi-scale pixel VIFp(A,F) + VIFp(B,F), sigma_n^2 = 2")
_register("Qabf", qabf, True, "Xydeas-Petrovic edge transfer, Sobel with zero padding", "QABF")
_register(
    "Nabf", nabf, True, "Kumar's fusion-artifact measure, w_min 0.001 (lower is better)", "NABF",
    higher_is_better=False,
)
_register("SSIM", ssim, True, "SSIM(A,F) + SSIM(B,F): 11x11 Gaussian 1.5, L 255, valid map")
_register(
    "MS_SSIM", ms_ssim, True, "5-scale MS-SSIM(A,F) + MS-SSIM(B,F), L 255", "MS-SSIM", "ms-ssim", "msssim"
)
_register("CC", cc, True, "(r(A,F) + r(B,F)) / 2, Pearson correlation")
_register("PSNR", psnr, True, "fusion PSNR 20 log10(255 / sqrt(MSE)) on [0,1] images (+48.13 dB)")
# Alternates that reproduce other scripts (not in DEFAULT_METRICS).
_register("MI_nats", functools.partial(mi, base=math.e), True, "MI in nats as CDDFuse/sklearn (bits x ln 2)")
_register("AG_cddfuse", functools.partial(ag, convention="cddfuse"), False, "AG divided by MN as CDDFuse")
_register(
    "SSIM_cddfuse", functools.partial(ssim, variant="cddfuse"), True,
    "CDDFuse/skimage SSIM sum: 7x7 uniform window, sample covariance, data_range 2",
)
_register(
    "SSIM_matlab", functools.partial(ssim, variant="matlab"), True,
    "MATLAB ssim averaged over the sources: 11x11 Gaussian, replicate padding, L 1",
)
_register("PSNR_standard", functools.partial(psnr, convention="standard"), True, "10 log10(255^2 / MSE)")
_register("PSNR_cddfuse", functools.partial(psnr, convention="cddfuse"), True, "10 log10(max(F)^2 / MSE)")
_register(
    "Nabf_w0", functools.partial(nabf, w_min=0.0), True, "Nabf with weak-edge weight 0 (Python ports)",
    higher_is_better=False,
)

DEFAULT_METRICS: tuple[str, ...] = (
    "EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "Nabf", "SSIM", "MS_SSIM", "CC", "PSNR",
)  # fmt: skip
# The metric set and conventions of CDDFuse's Evaluator (S5), in its paper's column order.
CDDFUSE_METRICS: tuple[str, ...] = ("EN", "SD", "SF", "MI_nats", "SCD", "VIF", "Qabf", "SSIM_cddfuse")


def _resolve(names: Sequence[str] | None) -> list[str]:
    """Canonical names for ``names`` (default: DEFAULT_METRICS); unknown names raise first."""
    if names is None:
        return list(DEFAULT_METRICS)
    if isinstance(names, str):
        raise ConfigError(f"names must be a sequence of metric names, e.g. [{names!r}], not a string.")
    return [METRICS.canonical(n) for n in names]


def evaluate_grey(
    f: np.ndarray, a: np.ndarray, b: np.ndarray, names: Sequence[str] | None = None
) -> dict[str, float]:
    """Evaluate metrics on grey images.

    Args:
        f: Fused grey image, float (or integer) values in [0, 255], shape (H, W).
        a: Infrared source, same shape.
        b: Visible source, same shape.
        names: Metric names or aliases; default ``DEFAULT_METRICS``.

    Returns:
        ``{canonical name: value}`` in the requested order.

    Raises:
        ShapeMismatchError: The three images differ in shape or are not 2-D.
        UnknownNameError: A name no metric is registered under.
    """
    keys = _resolve(names)
    f, a, b = as_triplet(f, a, b)
    return {k: METRICS.get(k)(f, a, b) for k in keys}


def evaluate_rgb(
    fused: np.ndarray, ir: np.ndarray, vis: np.ndarray, names: Sequence[str] | None = None
) -> dict[str, float]:
    """Evaluate metrics on RGB/grey images after :func:`grey_from_rgb` (the PAPER_SPEC reading).

    Args:
        fused: Fused image, (H, W, 3) RGB or (H, W) grey, uint8 (or values in [0, 255]).
        ir: Infrared image, (H, W) or (H, W, 3).
        vis: Visible image, (H, W, 3) RGB or (H, W).
        names: Metric names or aliases; default ``DEFAULT_METRICS``.

    Returns:
        ``{canonical name: value}`` in the requested order.
    """
    keys = _resolve(names)
    return evaluate_grey(grey_from_rgb(fused), grey_from_rgb(ir), grey_from_rgb(vis), keys)
