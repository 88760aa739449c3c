"""Dataset evaluation: fuse (or read fused images), compute metrics per pair, aggregate."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgefuse.data.images import IMAGE_SUFFIXES, read_rgb
from edgefuse.data.pairs import LoadedPair, Pair, find_pairs, load_pair
from edgefuse.data.suite import reference_pairs
from edgefuse.errors import ConfigError, DataError
from edgefuse.fusion import create_fuser
from edgefuse.metrics.grey import grey_from_rgb
from edgefuse.metrics.registry import DEFAULT_METRICS, METRICS, evaluate_grey


@dataclass(frozen=True)
class Column:
    """One compared entry: a fusion method to run, or a folder of fused images."""

    label: str
    method: str | None = None
    fused_dir: Path | None = None


@dataclass
class EvalResult:
    """Per-image metric rows and what is needed to summarise or picture them."""

    data: Path
    metric_names: list[str]
    labels: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)
    samples: list[tuple[LoadedPair, dict[str, np.ndarray]]] = field(default_factory=list)
    reference: Path | None = None  # set when scored against clean sources (rows then carry "type")

    def groups(self) -> list[str]:
        """Degradation types of a full-reference evaluation, in first-seen order ([] otherwise)."""
        return list(dict.fromkeys(str(r["type"]) for r in self.rows if "type" in r))

    def group_means(self) -> dict[str, dict[str, dict[str, float]]]:
        """type -> label -> metric -> mean (full-reference evaluations)."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for g in self.groups():
            rows = [r for r in self.rows if r.get("type") == g]
            out[g] = {lb: {m: float(np.mean([r[m] for r in rows if r["method"] == lb]))
                           for m in self.metric_names} for lb in self.labels}
        return out

    def values(self, label: str, metric: str) -> np.ndarray:
        return np.array([r[metric] for r in self.rows if r["method"] == label], dtype=np.float64)

    def means(self) -> dict[str, dict[str, float]]:
        return {lb: {m: float(np.mean(self.values(lb, m))) for m in self.metric_names} for lb in self.labels}

    def stds(self) -> dict[str, dict[str, float]]:
        return {lb: {m: float(np.std(self.values(lb, m))) for m in self.metric_names} for lb in self.labels}


def _method_label(method: str) -> str:
    path = Path(method)
    if path.suffix != ".safetensors":
        return method
    # runs/<run>/model.safetensors -> "<run>"; anything else -> file stem
    return path.parent.name if path.stem in ("model", "best", "last") and path.parent.name else path.stem


def columns_from_args(methods: Sequence[str], fused: Sequence[str]) -> list[Column]:
    """Columns for ``--method [LABEL=]NAME`` and ``--fused [LABEL=]DIR`` entries, labels unique."""
    cols = []
    for entry in methods:
        label, sep, method = entry.partition("=")
        if not sep:
            method, label = entry, _method_label(entry)
        cols.append(Column(label=label, method=method))
    for entry in fused:
        label, sep, path = entry.partition("=")
        if not sep:
            path = entry
            label = Path(entry.rstrip("/\\")).name or entry
        cols.append(Column(label=label, fused_dir=Path(path)))
    seen: set[str] = set()
    for col in cols:
        if col.label in seen:
            raise ConfigError(
                f"two compared entries are both named {col.label!r}; give one a label, e.g. --fused other={col.label}"
            )
        seen.add(col.label)
    if not cols:
        raise ConfigError("nothing to evaluate: give at least one --method NAME or --fused DIR")
    return cols


def _fused_files(fused_dir: Path, pairs: list[Pair]) -> dict[str, Path]:
    if not fused_dir.exists():
        raise DataError(f"fused-image folder not found: {fused_dir}")
    if not fused_dir.is_dir():
        raise DataError(f"--fused must be a folder, but {fused_dir} is a file")
    by_stem = {
        p.stem: p for p in sorted(fused_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
    }
    missing = [pair.name for pair in pairs if pair.name not in by_stem]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{fused_dir} has no fused image for {shown}; fuse them first or drop --fused")
    return {pair.name: by_stem[pair.name] for pair in pairs}


def _read_fused(path: Path, shape: tuple[int, int]) -> np.ndarray:
    img = read_rgb(path)
    if img.shape[:2] != shape:
        raise DataError(
            f"fused image {path} is {img.shape[1]}x{img.shape[0]} but its source pair is "
            f"{shape[1]}x{shape[0]} (WxH); fused images must keep the source size"
        )
    return img


def evaluate_dataset(
    data: str | os.PathLike[str],
    columns: Sequence[Column],
    metrics: Sequence[str] | None = None,
    keep_samples: int = 0,
    on_step: Callable[[], None] | None = None,
    reference: str | os.PathLike[str] | None = None,
) -> EvalResult:
    """Evaluate every column on every pair of ``data`` (a folder with ir/ + vi/ or mri/ + other/).

    All inputs are located before any fusing, so a missing file fails fast. ``on_step`` is
    called once per (pair, column), for progress bars.

    ``reference``: the clean folder a degraded suite (``edgefuse degrade``) was built from.
    Fusion still runs on the degraded pairs of ``data``, but every metric is computed against
    the clean sources (full-reference robustness scoring, as Text-IF scores EMS), and each row
    carries the pair's degradation ``type`` and ``severity``.
    """
    names = [METRICS.canonical(m) for m in (metrics or DEFAULT_METRICS)]
    pairs = find_pairs(data)
    clean: dict[str, Pair] = {}
    entries: dict[str, dict[str, object]] = {}
    if reference is not None:
        clean, entries = reference_pairs(data, reference)
    fused_files = {c.label: _fused_files(c.fused_dir, pairs) for c in columns if c.fused_dir}
    fusers = {c.label: create_fuser(c.method) for c in columns if c.method}
    result = EvalResult(Path(data), names, [c.label for c in columns],
                        reference=Path(reference) if reference is not None else None)
    for i, pair in enumerate(pairs):
        loaded = load_pair(pair)
        scored = load_pair(clean[pair.name]) if reference is not None else loaded
        grey_a, grey_b = scored.ir.astype(np.float64), grey_from_rgb(scored.vis)
        tags = ({"type": entries[pair.name]["type"], "severity": entries[pair.name]["severity"]}
                if reference is not None else {})
        outputs: dict[str, np.ndarray] = {}
        for col in columns:
            if col.method:
                fused = fusers[col.label](loaded.vis, loaded.ir)
            else:
                fused = _read_fused(fused_files[col.label][pair.name], loaded.ir.shape)
            scores = evaluate_grey(grey_from_rgb(fused), grey_a, grey_b, names)
            result.rows.append({"method": col.label, "image": pair.name, **tags, **scores})
            outputs[col.label] = fused
            if on_step:
                on_step()
        if i < keep_samples:
            result.samples.append((loaded, outputs))
    return result


def count_steps(data: str | os.PathLike[str], columns: Sequence[Column]) -> int:
    """How many (pair, column) steps :func:`evaluate_dataset` will take."""
    return len(find_pairs(data)) * len(columns)
