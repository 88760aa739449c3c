"""Paired IR/visible training data: in-memory pairs, aligned random crops, DTPF augmentation.

Follows the DTPF training data pipeline (PAPER_SPEC 2.3; ``Datasets/datasets.py`` of
github.com/Zirconium233/DTPF, arXiv 2504.07029): random square crops at the same position in
both images, then vertical flip, horizontal mirror and 180-degree rotation, each with p = 0.5,
applied identically to both; validation on the last 5 % of the training folder. Independent
implementation; images are read with :mod:`edgefuse.data.pairs` (IR grey, visible RGB).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

T = TypeVar("T")
PathLike = str | os.PathLike[str]
Events = Mapping[str, Any] | Callable[[Path, str], Any] | None

PARTS = ("all", "train", "holdout")
DEFAULT_SEED = 3407  # DTPF's seed
_SHOWN = 5


@dataclass(frozen=True)
class _Record:
    root: Path
    name: str
    ir: np.ndarray  # HxW uint8
    vis: np.ndarray  # HxWx3 uint8 RGB
    events: Any = None
    has_events: bool = False


def check_not_test(root: PathLike, allow_test: bool = False) -> Path:
    """Return ``root`` as a Path; raise ``ConfigError`` if a path component is named ``test``.

    Both the path as given and its resolved form (symlinks followed) are checked,
    case-insensitively, so a link named ``train`` pointing into ``.../test`` is caught too.
    """
    path = Path(root)
    if allow_test:
        return path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop (Python < 3.13)
        raise DataError(f"data folder {path} cannot be opened: {e}") from None
    for parts in (path.parts, resolved.parts):
        if any(p.lower() == "test" for p in parts):
            raise ConfigError(
                f"refusing to train or validate on {path}: its path contains a 'test' folder (a held-out "
                "test split). Use a train split, or pass allow_test=True if this is really intended."
            )
    return path


def split_holdout(pairs: Sequence[T], fraction: float = 0.05) -> tuple[list[T], list[T]]:
    """Split an ordered list into (first part, last ``fraction``) like DTPF's ranges [0, .95] / [.95, 1].

    The first part has ``int(n * (1 - fraction))`` items; the held-out tail has at least one item
    (when n >= 2) and the first part keeps at least one. MSRS-train: 1083 -> 1028 + 55; the
    30-pair shared subset -> 28 + 2.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"holdout fraction={fraction!r} must be in (0, 1)")
    items = list(pairs)
    n = len(items)
    if n < 2:
        raise DataError(f"cannot hold out a validation part from {n} pair(s); need at least 2")
    cut = min(max(int(n * (1.0 - fraction)), 1), n - 1)
    return items[:cut], items[cut:]


def _as_roots(roots: PathLike | Sequence[PathLike]) -> list[PathLike]:
    if isinstance(roots, (str, os.PathLike)):
        return [roots]
    out = list(roots)
    if not out:
        raise ConfigError("no dataset folders given; pass e.g. ['data/msrs/train']")
    return out


def _lookup_events(events: Events, root: Path, names: list[str]) -> list[Any]:
    if events is None:
        return [None] * len(names)
    if callable(events) and not isinstance(events, Mapping):
        return [events(root, n) for n in names]
    missing = [n for n in names if n not in events]
    if missing:
        shown = ", ".join(missing[:_SHOWN]) + (
            f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        )
        raise DataError(f"events has no entry for {len(missing)} pair(s) of {root}: {shown}")
    return [events[n] for n in names]


def load_records(
    roots: PathLike | Sequence[PathLike],
    part: str = "all",
    holdout_fraction: float = 0.05,
    allow_test: bool = False,
    events: Events = None,
    sixteen_bit: str = "scale",
) -> list[_Record]:
    """Decode the pairs of each root (``part`` of each, split per root) into memory as uint8."""
    if part not in PARTS:
        raise ConfigError(f"part={part!r} is not one of {', '.join(PARTS)}")
    records: list[_Record] = []
    for root in _as_roots(roots):
        root_p = check_not_test(root, allow_test)
        pairs = find_pairs(root_p)
        if part != "all":
            pairs = split_holdout(pairs, holdout_fraction)[0 if part == "train" else 1]
        ev = _lookup_events(events, root_p, [p.name for p in pairs])
        for pair, e in zip(pairs, ev, strict=True):
            loaded = load_pair(pair, sixteen_bit)
            records.append(_Record(root_p, pair.name, loaded.ir, loaded.vis, e, events is not None))
        logger.info("loaded %d pairs (%s) from %s", len(pairs), part, root_p)
    return records


def _pad_to(img: np.ndarray, h: int, w: int) -> np.ndarray:
    ph, pw = max(0, h - img.shape[0]), max(0, w - img.shape[1])
    if ph == 0 and pw == 0:
        return img
    pad = [(ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)] + [(0, 0)] * (img.ndim - 2)
    return np.pad(img, pad, mode="reflect")


def _sample_dict(rec: _Record, ir: np.ndarray, vis: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {
        "vis": torch.from_numpy(np.ascontiguousarray(vis.transpose(2, 0, 1))).float().div_(255.0),
        "ir": torch.from_numpy(np.ascontiguousarray(ir[None])).float().div_(255.0),
        "name": rec.name,
        "root": str(rec.root),
    }
    if rec.has_events:
        out["events"] = rec.events
    return out


class PairedCropDataset(Dataset):
    """Aligned random crops of in-memory IR/visible pairs for iteration-based training.

    Items are dicts: ``vis`` (3, h, w) float32 in [0, 1], ``ir`` (1, h, w), ``name``, ``root``,
    and ``events`` when ``events`` is given (batch those with :func:`collate_samples`).

    Args:
        roots: dataset folders (``<root>/ir`` + ``<root>/vi``, or ``mri`` + ``other``).
        crop: crop size (int or (h, w)); images smaller than it are reflect-padded first.
        augment: vertical flip, horizontal mirror and 180-degree rotation, each p = 0.5 (DTPF).
        seed: base seed. Item ``index`` of epoch ``e`` uses ``np.random.default_rng((seed, e,
            index))``, so it is reproducible and DDP ranks (disjoint indices from a
            ``DistributedSampler``) never draw the same crop. Call :meth:`set_epoch` each epoch;
            with ``persistent_workers=True`` the workers keep the epoch they were started with.
        events: optional per-pair payload (e.g. the teacher's event weight dicts): a mapping from
            pair name, or a callable ``(root, name) -> payload``; returned as ``events``.
        rotate90: also rotate by 90 degrees with p = 0.5 (with the flips: all 8 symmetries);
            needs a square crop. Off by default (DTPF does not use it).
        samples_per_epoch: ``len()`` of the dataset; item ``i`` uses pair ``i % n_pairs``.
            Default: the number of pairs.
        part: ``train`` (default; first 95 % of each root, as DTPF), ``holdout`` or ``all``.
        holdout_fraction: size of the held-out tail per root.
        allow_test: permit roots with a ``test`` path component (refused by default).
    """

    def __init__(
        self,
        roots: PathLike | Sequence[PathLike],
        crop: int | tuple[int, int] = 128,
        augment: bool = True,
        seed: int = DEFAULT_SEED,
        events: Events = None,
        *,
        rotate90: bool = False,
        samples_per_epoch: int | None = None,
        part: str = "train",
        holdout_fraction: float = 0.05,
        allow_test: bool = False,
        sixteen_bit: str = "scale",
        degrade: Any = None,
    ) -> None:
        self.degrade = degrade  # an edgefuse.data.degrade.DegradationMix, or None for clean training
        self.crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
        if len(self.crop) != 2 or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.crop
        ):
            raise ConfigError(f"crop={crop!r} must be a positive int or an (h, w) pair of them")
        if rotate90 and self.crop[0] != self.crop[1]:
            raise ConfigError(
                f"rotate90=True needs a square crop so batch shapes stay fixed, got crop={crop!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed={seed!r} must be an int >= 0")
        if samples_per_epoch is not None and (
            not isinstance(samples_per_epoch, int) or samples_per_epoch < 1
        ):
            raise ConfigError(f"samples_per_epoch={samples_per_epoch!r} must be a positive int or None")
        self.augment, self.rotate90, self.seed = bool(augment), bool(rotate90), seed
        self.epoch = 0
        records = load_records(roots, part, holdout_fraction, allow_test, events, sixteen_bit)
        ch, cw = self.crop
        if records and not any(2 * r.ir.shape[0] >= ch and 2 * r.ir.shape[1] >= cw for r in records):
            h, w = max((r.ir.shape[:2] for r in records), key=lambda s: s[0] * s[1])
            raise ConfigError(f"crop {ch}x{cw} is more than twice every training image (the largest is {w}x{h}): "
                              f"crops would be mostly mirrored padding; pass a --crop of at most {2 * min(h, w)}")
        self._records = [
            _Record(r.root, r.name, _pad_to(r.ir, ch, cw), _pad_to(r.vis, ch, cw), r.events, r.has_events)
            for r in records
        ]
        self.samples_per_epoch = samples_per_epoch or len(self._records)

    @property
    def names(self) -> list[tuple[str, str]]:
        """(root, name) of every pair, in index order."""
        return [(str(r.root), r.name) for r in self._records]

    @property
    def num_pairs(self) -> int:
        return len(self._records)

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of ``epoch`` (like ``DistributedSampler.set_epoch``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of length {len(self)}")
        rec = self._records[index % len(self._records)]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        ch, cw = self.crop
        top = int(rng.integers(0, rec.ir.shape[0] - ch + 1))
        left = int(rng.integers(0, rec.ir.shape[1] - cw + 1))
        ir = rec.ir[top : top + ch, left : left + cw]
        vis = rec.vis[top : top + ch, left : left + cw]
        if self.augment:
            ir, vis = _augment(ir, vis, rng, self.rotate90)
        if self.degrade is None:
            return _sample_dict(rec, ir, vis)
        # degrade after the paired crop/augmentation: both sides keep one geometry; targets stay clean
        vis_c, ir_c = np.ascontiguousarray(vis), np.ascontiguousarray(ir)
        vis_d, ir_d, kind = self.degrade.sample(vis_c, ir_c, rng)
        out = _sample_dict(rec, ir_d, vis_d)
        clean = _sample_dict(rec, ir_c, vis_c)
        out.update(vis_target=clean["vis"], ir_target=clean["ir"], degradation=kind or "clean")
        return out


def _augment(
    ir: np.ndarray, vis: np.ndarray, rng: np.random.Generator, rotate90: bool
) -> tuple[np.ndarray, np.ndarray]:
    """DTPF order: vertical flip, horizontal mirror, 180-degree rotation (p = 0.5 each), then rot90."""
    flip_v, mirror, rot180, rot90 = rng.random(4) < 0.5
    if flip_v:
        ir, vis = ir[::-1], vis[::-1]
    if mirror:
        ir, vis = ir[:, ::-1], vis[:, ::-1]
    if rot180:
        ir, vis = ir[::-1, ::-1], vis[::-1, ::-1]
    if rotate90 and rot90:
        ir, vis = np.rot90(ir), np.rot90(vis)
    return ir, vis


class FullImageDataset(Dataset):
    """Whole (uncropped) pairs for validation; sizes may differ, so use batch size 1.

    Items have the keys of :class:`PairedCropDataset`. By default the held-out last 5 % of each
    root (``part='holdout'``, the DTPF validation set); ``test`` roots are refused unless
    ``allow_test=True``.
    """

    def __init__(
        self,
        roots: PathLike | Sequence[PathLike],
        events: Events = None,
        *,
        part: str = "holdout",
        holdout_fraction: float = 0.05,
        allow_test: bool = False,
        sixteen_bit: str = "scale",
    ) -> None:
        self._records = load_records(roots, part, holdout_fraction, allow_test, events, sixteen_bit)

    @property
    def names(self) -> list[tuple[str, str]]:
        """(root, name) of every pair, in index order."""
        return [(str(r.root), r.name) for r in self._records]

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self._records[index]
        return _sample_dict(rec, rec.ir, rec.vis)


_STACKED = ("vis", "ir", "vis_target", "ir_target")


def collate_samples(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack ``vis``/``ir`` and keep every other key as a per-sample list (``events`` untouched).

    Use as ``DataLoader(..., collate_fn=collate_samples)`` when items carry ``events``; the default
    collate would transpose nested lists of weight dicts.
    """
    if not batch:
        raise DataError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        out[key] = torch.stack(values) if key in _STACKED else values
    return out
