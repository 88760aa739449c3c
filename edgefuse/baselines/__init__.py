"""Classical fusion baselines, so every table has a reference row."""

from edgefuse.baselines.classical import fuse_average, fuse_laplacian, fuse_max

__all__ = ["fuse_average", "fuse_laplacian", "fuse_max"]
