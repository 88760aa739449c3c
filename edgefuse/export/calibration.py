"""Paired IR/visible calibration frames: folder checks, random crops/resizes, fingerprints, cache keys."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.data.pairs import Pair, find_pairs, load_pair, resize_pair
from edgefuse.errors import DataError
from edgefuse.files import file_sha256, sha256_hex
from edgefuse.export._ort import Feeds
from edgefuse.config_types import Size

FORBIDDEN_SPLITS = ("test",)


def refuse_test_split(folder: str | os.PathLike[str]) -> Path:
    """Raise if any component of ``folder`` (resolved) is a ``test`` split."""
    try:
        p = Path(folder).resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop (Python < 3.13)
        raise DataError(f"calibration folder {folder} cannot be opened: {e}") from None
    bad = [part for part in p.parts if part.lower() in FORBIDDEN_SPLITS]
    if bad:
        raise DataError(
            f"refusing to calibrate on {folder}: it is a '{bad[0]}' split, and calibrating on test data "
            "would leak it into the INT8 scales; use a train split, e.g. --calib DATA/train"
        )
    return p


def to_feeds(vis: np.ndarray, ir: np.ndarray) -> Feeds:
    """HxWx3 / HxW uint8 -> the graph inputs ``vis`` (1,3,H,W) and ``ir`` (1,1,H,W), float32 [0,1]."""
    v = np.ascontiguousarray(vis.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    i = np.ascontiguousarray(ir[None, None], dtype=np.float32) / 255.0
    return {"vis": v.astype(np.float32), "ir": i.astype(np.float32)}


def _random_view(
    vis: np.ndarray, ir: np.ndarray, size: Size, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``size`` crop, at native scale or after shrinking the frame to just cover ``size``."""
    h, w = size
    scale = max(h / ir.shape[0], w / ir.shape[1])
    if scale > 1 or rng.random() < 0.5:  # too small, or half of the views see the whole frame's context
        nh, nw = max(h, round(ir.shape[0] * scale)), max(w, round(ir.shape[1] * scale))
        vis, ir = resize_pair(vis, ir, (nh, nw))
    y = int(rng.integers(0, ir.shape[0] - h + 1))
    x = int(rng.integers(0, ir.shape[1] - w + 1))
    return vis[y: y + h, x: x + w], ir[y: y + h, x: x + w]


@dataclass
class CalibrationSet:
    """The calibration folder, its pairs and a fingerprint of their contents."""

    folder: Path
    pairs: list[Pair]
    fingerprint: str

    @classmethod
    def open(cls, folder: str | os.PathLike[str], min_pairs: int = 8) -> CalibrationSet:
        """Check the folder (no test split, enough pairs, every image readable) and fingerprint it.

        Raises:
            DataError: a test split, a folder without ``ir/`` + ``vi/``, fewer than
                ``min_pairs`` pairs, or an image that cannot be read.
        """
        root = refuse_test_split(folder)
        pairs = find_pairs(root)
        if len(pairs) < min_pairs:
            raise DataError(
                f"too few calibration pairs in {folder}: {len(pairs)} found, at least {min_pairs} needed for stable "
                "INT8 scales; add pairs from the deployment scenes (day/night, hot/cold) or lower --calib-min-pairs"
            )
        lines = []
        for pair in pairs:
            try:
                load_pair(pair)
            except DataError as e:
                raise DataError(f"unreadable calibration pair {pair.name!r}: {e}") from e
            lines.append(f"{pair.name}:{file_sha256(pair.ir)}:{file_sha256(pair.vis)}\n")
        return cls(root, pairs, sha256_hex("".join(lines)))

    def frames(self, size: Size, samples: int, seed: int = 0) -> list[Feeds]:
        """``samples`` random views of the pairs at ``size``, cycling through shuffled pairs."""
        return list(self.iter_frames(size, samples, seed))

    def iter_frames(self, size: Size, samples: int, seed: int = 0) -> Iterator[Feeds]:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.pairs))
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in range(samples):
            idx = int(order[k % len(order)])
            if idx not in cache:
                loaded = load_pair(self.pairs[idx])
                cache[idx] = (loaded.vis, loaded.ir)
            yield to_feeds(*_random_view(*cache[idx], size, rng))


def cache_key(**parts: Any) -> str:
    """A short hex key over the model hash, data fingerprint, shape, method and sampling."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return sha256_hex(blob, 16)
