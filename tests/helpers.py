"""Test helpers: small synthetic pairs written to disk."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "edgefuse" / "assets" / "samples"


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random uint8 texture (blurred noise), deterministic per seed."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6) * 255
    return img.round().astype(np.uint8)


def write_pair_dataset(root: Path, names: list[str], h: int = 40, w: int = 56, layout=("ir", "vi")) -> Path:
    """Write synthetic pairs under ``root/<layout>``; return root."""
    (root / layout[0]).mkdir(parents=True, exist_ok=True)
    (root / layout[1]).mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        ir = textured(h, w, seed=2 * i)
        vis = np.stack([textured(h, w, seed=2 * i + 1 + k) for k in range(3)], axis=2)
        cv2.imwrite(str(root / layout[0] / f"{name}.png"), ir)
        cv2.imwrite(str(root / layout[1] / f"{name}.png"), vis)
    return root
