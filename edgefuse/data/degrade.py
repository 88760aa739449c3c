"""Seeded degradations of IR/visible and medical pairs: the robustness suite and on-the-fly training input.

Each degradation acts on one side of a pair (uint8 arrays as :mod:`edgefuse.data.images` reads
them: visible HxWx3 RGB, IR HxW grey), has three severity levels and names the DTPF event it
stands for, so a suite built with it carries its own ground-truth text and the text-guided
teacher can be told the applied degradation (an "oracle" prior).

The types follow the degradations of Text-IF's EMS benchmark (Yi et al., CVPR 2024, and the EMS
repository: visible low light, visible over-exposure, infrared low contrast, infrared noise,
plus EMS-Full's blur and infrared stripe noise) and ControlFusion's degradation prompts (Tang et
al., NeurIPS 2025, arXiv 2503.23356). The models are the usual textbook ones, with parameters
chosen here:

* ``low_light``: gamma darkening and gain, then signal-dependent (shot + read) noise, the
  Poisson-Gaussian model of Foi et al. (IEEE TIP 2008) used by Brooks et al.'s "Unprocessing
  images" (CVPR 2019) to synthesise low-light raw noise.
* ``over_exposure``: exposure gain and offset with clipping at white.
* ``ir_low_contrast``: contrast compressed towards the image mean (a flat thermal scene or a
  poorly set AGC).
* ``ir_noise``: Gaussian noise plus fixed-pattern column stripes (uncooled microbolometer
  non-uniformity; EMS-Full's stripe noise).
* ``motion_blur``: a linear motion kernel of random direction on the visible image (the
  longer visible exposure blurs; EMS-Full blurs the visible side).
* medical ``mri_noise``: Rician noise on the MRI (magnitude of complex Gaussian noise,
  Gudbjartsson & Patz, MRM 1995); ``mri_low_contrast``: compressed MRI contrast.

Randomness: every draw comes from ``numpy.random.default_rng`` seeded by (seed, pair name, type,
severity), so a suite is the same on every machine and every run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from edgefuse.data.images import round_u8, u8_from_float
from edgefuse.errors import ConfigError, did_you_mean

SEVERITIES = (1, 2, 3)
MANIFEST_FORMAT = "edgefuse-degraded/1"
MANIFEST_NAME = "manifest.json"

Ranges = Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class Degradation:
    """One degradation type: the side it acts on, its DTPF event, and parameter ranges per severity."""

    name: str
    task: str
    side: str  # "vis" or "ir" (the grey input: IR or MRI)
    event: str
    levels: tuple[Ranges, Ranges, Ranges]
    apply: Callable[[np.ndarray, Mapping[str, float], np.random.Generator], np.ndarray]
    summary: str

    def draw(self, severity: int, rng: np.random.Generator) -> dict[str, float]:
        """Parameters for ``severity``, each drawn uniformly from its range."""
        ranges = self.levels[check_severity(severity) - 1]
        return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}


def _u8(x: np.ndarray) -> np.ndarray:
    return u8_from_float(x)


def _f(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 255.0


def _low_light(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    dark = p["gain"] * _f(img) ** p["gamma"]
    sigma = np.sqrt(p["shot"] * dark + p["read"] ** 2)
    # one noise field per channel: sensor noise is independent per colour site
    return _u8(dark + sigma * rng.standard_normal(img.shape))


def _over_exposure(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    return _u8(_f(img) * p["gain"] + p["offset"])


def _low_contrast(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    x = _f(img)
    mean = float(x.mean())
    # compress around the mean and pull the mean towards mid grey (AGC with a narrow window)
    centre = mean + p["shift"] * (0.5 - mean)
    return _u8(centre + p["contrast"] * (x - mean))


def _ir_noise(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    x = _f(img)
    stripes = p["stripe"] * rng.standard_normal((1, x.shape[1]))
    return _u8(x + stripes + p["sigma"] * rng.standard_normal(x.shape))


def motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised linear motion-blur kernel: a line of ``length`` pixels at ``angle_deg``."""
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    # sample the segment densely (anti-aliased by bilinear splatting)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, max(int(length * 4), 2)):
        x, y = c + t * dx, c + t * dy
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for xx, yy, w in ((x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                          (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)):
            if 0 <= xx < size and 0 <= yy < size:
                kernel[yy, xx] += w
    return kernel / kernel.sum()


def _motion_blur(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    kernel = motion_kernel(p["length"], p["angle"])
    out = cv2.filter2D(img.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return round_u8(out)


def _rician(img: np.ndarray, p: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    x = _f(img)
    real = x + p["sigma"] * rng.standard_normal(x.shape)
    imag = p["sigma"] * rng.standard_normal(x.shape)
    return _u8(np.sqrt(real**2 + imag**2))


def _levels(*levels: dict[str, tuple[float, float]]) -> tuple[Ranges, Ranges, Ranges]:
    assert len(levels) == 3
    return tuple(MappingProxyType(dict(lv)) for lv in levels)  # type: ignore[return-value]


DEGRADATIONS: Mapping[str, Degradation] = MappingProxyType({d.name: d for d in (
    Degradation("low_light", "ivf", "vis", "low_light", _levels(
        {"gamma": (1.6, 2.0), "gain": (0.50, 0.65), "shot": (0.002, 0.004), "read": (0.006, 0.010)},
        {"gamma": (2.0, 2.6), "gain": (0.32, 0.45), "shot": (0.004, 0.008), "read": (0.010, 0.016)},
        {"gamma": (2.6, 3.2), "gain": (0.18, 0.28), "shot": (0.008, 0.012), "read": (0.016, 0.024)},
    ), _low_light, "visible darkened (gamma, gain) with shot + read noise"),
    Degradation("over_exposure", "ivf", "vis", "over_exposure", _levels(
        {"gain": (1.5, 1.8), "offset": (0.05, 0.10)},
        {"gain": (1.8, 2.3), "offset": (0.10, 0.18)},
        {"gain": (2.3, 3.0), "offset": (0.18, 0.28)},
    ), _over_exposure, "visible exposure gain and offset, clipped at white"),
    Degradation("ir_low_contrast", "ivf", "ir", "ir_low_contrast", _levels(
        {"contrast": (0.45, 0.60), "shift": (0.2, 0.4)},
        {"contrast": (0.30, 0.45), "shift": (0.4, 0.6)},
        {"contrast": (0.15, 0.30), "shift": (0.6, 0.8)},
    ), _low_contrast, "infrared contrast compressed towards mid grey"),
    Degradation("ir_noise", "ivf", "ir", "ir_noise", _levels(
        {"sigma": (0.020, 0.035), "stripe": (0.008, 0.015)},
        {"sigma": (0.035, 0.060), "stripe": (0.015, 0.025)},
        {"sigma": (0.060, 0.090), "stripe": (0.025, 0.040)},
    ), _ir_noise, "infrared Gaussian noise plus column stripes"),
    Degradation("motion_blur", "ivf", "vis", "motion_blur", _levels(
        {"length": (5.0, 8.0), "angle": (0.0, 180.0)},
        {"length": (8.0, 13.0), "angle": (0.0, 180.0)},
        {"length": (13.0, 20.0), "angle": (0.0, 180.0)},
    ), _motion_blur, "visible linear motion blur of random direction"),
    Degradation("mri_noise", "medical", "ir", "noise_suppression", _levels(
        {"sigma": (0.015, 0.025)}, {"sigma": (0.025, 0.045)}, {"sigma": (0.045, 0.070)},
    ), _rician, "MRI Rician noise"),
    Degradation("mri_low_contrast", "medical", "ir", "contrast_enhancement", _levels(
        {"contrast": (0.50, 0.65), "shift": (0.0, 0.1)},
        {"contrast": (0.35, 0.50), "shift": (0.1, 0.2)},
        {"contrast": (0.20, 0.35), "shift": (0.2, 0.3)},
    ), _low_contrast, "MRI contrast compressed"),
)})


def types_for(task: str) -> tuple[str, ...]:
    """The degradation types of a task (``ivf`` or ``medical``), in suite order."""
    if task not in ("ivf", "medical"):
        raise ConfigError(f"task {task!r} is not one of ivf, medical")
    return tuple(n for n, d in DEGRADATIONS.items() if d.task == task)


def check_type(name: str, task: str | None = None) -> Degradation:
    """The :class:`Degradation` called ``name``; a one-line ConfigError for an unknown one."""
    known = types_for(task) if task else tuple(DEGRADATIONS)
    if name not in known:
        raise ConfigError(
            f"unknown degradation type {name!r}.{did_you_mean(name, known)} Known: {', '.join(known)}")
    return DEGRADATIONS[name]


def check_severity(severity: Any) -> int:
    """``severity`` as an int in 1..3; a one-line ConfigError otherwise."""
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or int(severity) not in SEVERITIES:
        raise ConfigError(f"severity {severity!r} is not one of {', '.join(map(str, SEVERITIES))}")
    return int(severity)


def pair_rng(seed: int, name: str, kind: str, severity: int) -> np.random.Generator:
    """The generator of one (pair, type, severity): stable across runs, machines and orderings."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), zlib.crc32(kind.encode()), int(severity)])


def degrade_pair(
    vis: np.ndarray, ir: np.ndarray, kind: str, severity: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Degrade one side of a pair; return (vis, ir, parameters). The other side is returned unchanged."""
    deg = check_type(kind)
    params = deg.draw(severity, rng)
    if deg.side == "vis":
        return deg.apply(vis, params, rng), ir, params
    return vis, deg.apply(ir, params, rng), params


@dataclass(frozen=True)
class DegradationMix:
    """How training inputs are degraded on the fly.

    ``clean_ratio`` of the samples stay clean; the others get one type drawn uniformly from
    ``types`` at a severity drawn uniformly from ``severities``.
    """

    types: tuple[str, ...]
    severities: tuple[int, ...] = SEVERITIES
    clean_ratio: float = 0.25

    def __post_init__(self) -> None:
        if not self.types:
            raise ConfigError("a degradation mix needs at least one type")
        for t in self.types:
            check_type(t)
        for s in self.severities:
            check_severity(s)
        if not self.severities:
            raise ConfigError("a degradation mix needs at least one severity")
        if not 0.0 <= float(self.clean_ratio) < 1.0:
            raise ConfigError(f"clean ratio {self.clean_ratio!r} must be in [0, 1)")

    def sample(self, vis: np.ndarray, ir: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, str | None]:
        """Degrade (or not) one training crop; return (vis, ir, type or None for clean)."""
        if rng.random() < self.clean_ratio:
            return vis, ir, None
        kind = self.types[int(rng.integers(len(self.types)))]
        severity = self.severities[int(rng.integers(len(self.severities)))]
        vis_d, ir_d, _ = degrade_pair(vis, ir, kind, severity, rng)
        return vis_d, ir_d, kind


def parse_types(spec: str | Sequence[str] | None, task: str) -> tuple[str, ...]:
    """``all``/None -> every type of ``task``; else a comma list (or sequence) of checked names."""
    if spec is None or spec == "all" or spec == ("all",):
        return types_for(task)
    items = spec.split(",") if isinstance(spec, str) else [x for s in spec for x in s.split(",")]
    names = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    if not names:
        raise ConfigError("no degradation type given; pass e.g. --type low_light,ir_noise or all")
    for n in names:
        check_type(n, task)
    return names


def parse_severities(spec: str | Sequence[Any] | None) -> tuple[int, ...]:
    """``all``/None -> 1, 2, 3; else a comma list of severities."""
    if spec is None or spec == "all":
        return SEVERITIES
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"severity {text!r} is not one of {', '.join(map(str, SEVERITIES))}") from None
        out.append(check_severity(value))
    if not out:
        raise ConfigError("no severity given; pass e.g. --severity 2 or 1,2,3")
    return tuple(dict.fromkeys(out))
