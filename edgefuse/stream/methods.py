"""Classical fusion methods (``average``, ``max``, ``laplacian``) and plain functions as stream backends.

They follow the backend image-level contract the stream runtime uses (``fuse_u8(vis, ir)``
-> RGB uint8, ``name``, ``describe``), so ``edgefuse stream --method max`` runs without a model
and ``run_stream(fuser=fn)`` runs any function of (visible HxWx3 uint8, IR HxW uint8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgefuse.baselines import fuse_average, fuse_laplacian, fuse_max
from edgefuse.data.images import u8_from_float
from edgefuse.errors import ConfigError, ShapeMismatchError, did_you_mean

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


Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]


class FuserBackend:
    """A fusion function (visible HxWx3 uint8, IR HxW uint8 -> fused HxWx3 uint8) as a stream backend.

    Each result is checked: it must be a uint8 array of the visible frame's size with 3 channels.
    """

    def __init__(self, fn: Fuser, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"fuser {fn!r} is not callable; pass a function (vis, ir) -> fused, a backend "
                              f"with fuse_u8, or a method name ({', '.join(METHODS)})")
        self._fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__

    def __enter__(self) -> FuserBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": "cpu", "precision": None, "artefact": None}

    def fuse_u8(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        out = self._fn(vis, ir)
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != vis.shape[:2] + (3,):
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ShapeMismatchError(f"fuser {self.name} returned {got}; it must return a uint8 array of shape "
                              f"{vis.shape[:2] + (3,)} (the visible frame's HxWx3)")
        return out


__all__ = ["METHODS", "ClassicalBackend", "Fuser", "FuserBackend"]
