"""Classical fusion methods (``average``, ``max``, ``laplacian``) as stream backends.

They follow the backend image-level contract the stream runtime uses (``fuse_u8(vis, ir)``
-> RGB uint8, ``name``, ``describe``), so ``edgefuse stream --method max`` runs without a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgefuse.baselines import fuse_average, fuse_laplacian, fuse_max
from edgefuse.data.images import u8_from_float
from edgefuse.errors import ConfigError, did_you_mean

METHODS = {"average": fuse_average, "max": fuse_max, "laplacian": fuse_laplacian}


class ClassicalBackend:
    """One of ``METHODS`` on uint8 frames."""

    def __init__(self, method: str) -> None:
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}.{did_you_mean(method, tuple(METHODS))} "
                              f"Known: {', '.join(METHODS)}")
        self.method = method
        self.name = method
        self._fn = METHODS[method]

    def __enter__(self) -> ClassicalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": "cpu", "precision": "fp32", "artefact": None}

    def fuse_u8(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        out = self._fn(vis.astype(np.float32) / 255.0, ir.astype(np.float32) / 255.0)
        return u8_from_float(out)


__all__ = ["METHODS", "ClassicalBackend"]
