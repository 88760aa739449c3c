"""Image-fusion quality metrics (EN ... PSNR) as pure functions, a METRICS registry and evaluators."""

from __future__ import annotations

from edgefuse.metrics.fidelity import vif, vifp
from edgefuse.metrics.functional import ag, cc, en, mi, psnr, scd, sd, sf
from edgefuse.metrics.gradient_quality import nabf, qabf
from edgefuse.metrics.grey import grey_from_rgb
from edgefuse.metrics.registry import (
    CDDFUSE_METRICS,
    DEFAULT_METRICS,
    METRICS,
    MetricInfo,
    evaluate_grey,
    evaluate_rgb,
)
from edgefuse.metrics.structural import SSIM_VARIANTS, ms_ssim, ssim

__all__ = [
    "CDDFUSE_METRICS",
    "DEFAULT_METRICS",
    "METRICS",
    "SSIM_VARIANTS",
    "MetricInfo",
    "ag",
    "cc",
    "en",
    "evaluate_grey",
    "evaluate_rgb",
    "grey_from_rgb",
    "mi",
    "ms_ssim",
    "nabf",
    "psnr",
    "qabf",
    "scd",
    "sd",
    "sf",
    "ssim",
    "vif",
    "vifp",
]
