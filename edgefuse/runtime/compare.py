"""Compare artefacts with their reference on real pairs: the one measurement behind every parity number.

``compare`` is what the export parity gates (sidecar ``parity``), ``edgefuse bench --data``
(report ``accuracy``), the INT8 search (sidecar ``int8.search``) and ``benchmarks/bench_matrix.py``
call, so one artefact on one set of pairs gets one PSNR wherever it is printed.

A fuser, the reference or a candidate, is any function ``fuse(vis, ir) -> fused`` on one pair:
``vis`` (1, 3, H, W) and ``ir`` (1, 1, H, W) float32 in [0, 1] in, ``fused`` (1, 3, H, W) float in
[0, 1] out; an ONNX Runtime session, a backend's ``infer`` or a PyTorch module fit in a lambda.
Each pair is fed as ``uint8 / 255`` (the graph inputs of ``fuse_u8`` and the calibration feeds),
the float outputs give the absolute errors, and PSNR (peak 255, capped at 100 dB) and SSIM (mean
over RGB) are of the 8-bit images after ``edgefuse.data.images.u8_from_float``, the one rounding
rule: the fused images a user sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgefuse.data.images import u8_hwc
from edgefuse.errors import ConfigError, DataError, ShapeMismatchError
from edgefuse.metrics.registry import evaluate_rgb
from edgefuse.metrics.similarity import psnr_u8, ssim_u8

Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]


class ImagePair(Protocol):
    """A loaded pair (``edgefuse.data.pairs.LoadedPair``): ``vis`` HxWx3 uint8 RGB, ``ir`` HxW uint8."""

    name: str
    vis: np.ndarray
    ir: np.ndarray


@dataclass(frozen=True)
class PairScore:
    """One candidate on one pair, against the reference's output for it."""

    name: str
    finite: bool
    max_abs_err: float
    mean_abs_err: float
    psnr_db: float
    ssim: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    reference_metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "finite": self.finite, "max_abs_err": self.max_abs_err,
                "mean_abs_err": self.mean_abs_err, "psnr_db": self.psnr_db, "ssim": self.ssim,
                **{f"{k}_ref": v for k, v in self.reference_metrics.items()}, **dict(self.metrics)}


@dataclass(frozen=True)
class Score:
    """One candidate over a sequence of pairs: the per-pair scores and their aggregates.

    Means are over pairs (``psnr_db`` is the mean of the per-pair PSNRs), ``max_abs_err`` is the
    largest over pairs. ``Score(s.pairs[a:b])`` is the score of a subset, ``Score(s.pairs + t.pairs)``
    the pooled score of two sets.
    """

    pairs: tuple[PairScore, ...]

    def __post_init__(self) -> None:
        if not self.pairs:
            raise DataError("a score needs at least one pair")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pairs]

    @property
    def finite(self) -> bool:
        return all(p.finite for p in self.pairs)

    @property
    def max_abs_err(self) -> float:
        return max(p.max_abs_err for p in self.pairs)

    @property
    def mean_abs_err(self) -> float:
        return float(np.mean([p.mean_abs_err for p in self.pairs]))

    @property
    def psnr_db(self) -> float:
        return float(np.mean([p.psnr_db for p in self.pairs]))

    @property
    def psnr_db_min(self) -> float:
        return float(min(p.psnr_db for p in self.pairs))

    @property
    def ssim(self) -> float:
        return float(np.mean([p.ssim for p in self.pairs]))

    @property
    def ssim_min(self) -> float:
        return float(min(p.ssim for p in self.pairs))

    @property
    def metrics(self) -> dict[str, float]:
        """Mean fusion metrics (``fusion_metrics``) of the candidate's images."""
        return {k: float(np.mean([p.metrics[k] for p in self.pairs])) for k in self.pairs[0].metrics}

    @property
    def reference_metrics(self) -> dict[str, float]:
        """Mean fusion metrics of the reference's images."""
        keys = self.pairs[0].reference_metrics
        return {k: float(np.mean([p.reference_metrics[k] for p in self.pairs])) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": len(self.pairs), "names": self.names, "finite": self.finite,
                "max_abs_err": self.max_abs_err, "mean_abs_err": self.mean_abs_err,
                "psnr_db": self.psnr_db, "psnr_db_min": self.psnr_db_min, "ssim": self.ssim, "ssim_min": self.ssim_min,
                "metrics": self.metrics, "reference_metrics": self.reference_metrics,
                "by_pair": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class _Reference:
    """The reference's output for one pair, kept so later comparisons need not run it again."""

    name: str
    fused: np.ndarray
    image: np.ndarray
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class Comparison:
    """Every candidate's ``Score`` on the same pairs against the same reference.

    A ``Comparison`` can be passed back to ``compare`` as the reference: its reference outputs
    are reused (the INT8 search scores many graphs against one FP32 run).
    """

    scores: dict[str, Score]
    fusion_metrics: tuple[str, ...]
    references: tuple[_Reference, ...] = field(repr=False)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.references]

    def __getitem__(self, candidate: str) -> Score:
        return self.scores[candidate]

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": self.names, "fusion_metrics": list(self.fusion_metrics),
                "candidates": {k: s.to_dict() for k, s in self.scores.items()}}


def _inputs(pair: ImagePair) -> tuple[np.ndarray, np.ndarray]:
    vis, ir = np.asarray(pair.vis), np.asarray(pair.ir)
    if vis.dtype != np.uint8 or ir.dtype != np.uint8 or vis.ndim != 3 or vis.shape[2] != 3 or ir.shape != vis.shape[:2]:
        raise ShapeMismatchError(f"pair {pair.name!r}: compare takes an HxWx3 and an HxW uint8 image of one size; "
                                 f"got {vis.dtype} {vis.shape} and {ir.dtype} {ir.shape}")
    v = np.ascontiguousarray(vis.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
    i = np.ascontiguousarray(ir[None, None], dtype=np.float32) / np.float32(255.0)
    return v, i


def _fused(fuse: Fuser, label: str, pair: ImagePair, v: np.ndarray, i: np.ndarray) -> np.ndarray:
    out = np.asarray(fuse(v, i))
    want = (1, 3, *v.shape[2:])
    if out.shape != want:
        raise ShapeMismatchError(f"{label} returned {out.shape} for pair {pair.name!r}; a fuser must return {want}")
    return out.astype(np.float32, copy=False)


def _reference_of(reference: Fuser | Comparison, pairs: Sequence[ImagePair],
                  fusion_metrics: tuple[str, ...]) -> tuple[_Reference, ...]:
    if isinstance(reference, Comparison):
        if reference.names != [p.name for p in pairs]:
            raise ConfigError(f"the reference comparison is of pairs {reference.names}, not {[p.name for p in pairs]}")
        missing = [k for k in fusion_metrics if k not in reference.fusion_metrics]
        if missing:
            raise ConfigError(f"the reference comparison has no fusion metric {', '.join(missing)} "
                              f"(it has {list(reference.fusion_metrics) or 'none'})")
        return tuple(_Reference(r.name, r.fused, r.image, {k: r.metrics[k] for k in fusion_metrics})
                     for r in reference.references)
    refs = []
    for p in pairs:
        fused = _fused(reference, "the reference", p, *_inputs(p))
        image = u8_hwc(fused)
        metrics = evaluate_rgb(image, p.ir, p.vis, fusion_metrics) if fusion_metrics else {}
        refs.append(_Reference(p.name, fused, image, metrics))
    return tuple(refs)


def compare(
    reference: Fuser | Comparison, candidates: Mapping[str, Fuser], pairs: Sequence[ImagePair],
    fusion_metrics: Sequence[str] = (),
) -> Comparison:
    """Run the reference and every candidate on ``pairs`` and score each candidate against the reference.

    Args:
        reference: The fuser every candidate is measured against (the FP32 model or graph), or a
            previous ``Comparison`` on the same pairs (with at least these ``fusion_metrics``),
            whose reference outputs are reused.
        candidates: Fusers by name (``{}`` only runs the reference, for later reuse).
        pairs: Loaded pairs, already at the size the fusers take (``edgefuse.data.pairs.load_spread``).
        fusion_metrics: Names of ``edgefuse.metrics`` fusion metrics (e.g. ``("VIF", "Qabf")``) to
            evaluate on each 8-bit fused image, the reference's and the candidates'.

    Returns:
        A ``Comparison``: ``result[name]`` is a candidate's ``Score`` (per-pair ``PairScore`` rows
        and their aggregates), ``to_dict()`` the JSON-ready form.

    Raises:
        DataError: no pairs.
        ShapeMismatchError: a pair that is not 8-bit RGB + grey of one size, or a fuser output
            that is not (1, 3, H, W).
        ConfigError: a reference ``Comparison`` of other pairs or without one of ``fusion_metrics``.
    """
    if not pairs:
        raise DataError("compare needs at least one pair")
    names = tuple(fusion_metrics)
    refs = _reference_of(reference, pairs, names)
    scores = {}
    for label, fuse in candidates.items():
        rows = []
        for p, ref in zip(pairs, refs):
            out = _fused(fuse, label, p, *_inputs(p))
            image = u8_hwc(out)
            err = np.abs(out.astype(np.float64) - ref.fused.astype(np.float64))
            rows.append(PairScore(
                name=p.name, finite=bool(np.isfinite(out).all()), max_abs_err=float(err.max()),
                mean_abs_err=float(err.mean()), psnr_db=psnr_u8(image, ref.image), ssim=ssim_u8(image, ref.image),
                metrics=evaluate_rgb(image, p.ir, p.vis, names) if names else {}, reference_metrics=dict(ref.metrics),
            ))
        scores[label] = Score(tuple(rows))
    return Comparison(scores, names, refs)
