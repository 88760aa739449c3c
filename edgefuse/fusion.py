"""Fusion methods by name: one callable contract for classical baselines and, later, models.

A *fuser* maps a visible (colour-role) image, HxWx3 uint8 RGB, and an IR (grey-role) image,
HxW uint8, to a fused HxWx3 uint8 RGB image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgefuse.baselines import classical
from edgefuse.data.images import float_from_u8, u8_from_float
from edgefuse.registry import Registry

Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]
FloatFuse = Callable[[np.ndarray, np.ndarray], np.ndarray]

METHODS: Registry[Callable[[], Fuser]] = Registry("fusion method")

# The best classical method by VIF/Qabf on msrs/test and roadscene/test
# (benchmarks/results/baselines_*.md); the default until a trained student ships.
DEFAULT_METHOD = "max"


def _from_float(fn: FloatFuse) -> Callable[[], Fuser]:
    def factory() -> Fuser:
        def fuse(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
            return u8_from_float(fn(float_from_u8(vis), float_from_u8(ir)))

        return fuse

    return factory


METHODS.add("average", _from_float(classical.fuse_average), aliases=("avg", "mean"))
METHODS.add("max", _from_float(classical.fuse_max), aliases=("pixel_max",))
METHODS.add("laplacian", _from_float(classical.fuse_laplacian), aliases=("lp", "multiscale"))


def create_fuser(method: str = DEFAULT_METHOD) -> Fuser:
    """Return the fuser registered as ``method`` (raises ``UnknownNameError`` otherwise)."""
    return METHODS.get(method)()
