"""Input validation shared by the metric functions (private)."""

from __future__ import annotations

import numpy as np

from edgefuse.errors import ConfigError, ShapeMismatchError


def as_grey(x: object, name: str = "image", min_side: int = 1) -> np.ndarray:
    """Return ``x`` as a float64 2-D grey image, validating dims, dtype and values.

    Args:
        x: Array-like grey image with values in [0, 255].
        name: Name used in error messages ("F", "A", "B", ...).
        min_side: Smallest allowed height and width.

    Returns:
        A float64 array of shape (H, W) (no copy when already float64).

    Raises:
        ShapeMismatchError: Not 2-D, or smaller than ``min_side`` pixels on a side.
        ConfigError: Non-numeric dtype or non-finite values.
    """
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "uif":
        raise ConfigError(
            f"{name} must be a numeric grey image (uint8, int or float in [0, 255]); got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ShapeMismatchError(
            f"{name} must be a 2-D grey image (H, W); got shape {arr.shape}. "
            "Convert colour images with edgefuse.metrics.grey_from_rgb first."
        )
    if min(arr.shape) < min_side:
        raise ShapeMismatchError(
            f"{name} must be at least {min_side}x{min_side} pixels for this metric; got shape {arr.shape}."
        )
    arr = arr.astype(np.float64, copy=False)
    # A sum is cheaper than np.isfinite(...).all() and is non-finite whenever any element is.
    if not np.isfinite(arr.sum()):
        raise ConfigError(f"{name} contains NaN or infinite values; metrics need finite grey levels.")
    return arr


def as_triplet(
    f: object, a: object, b: object, min_side: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the fused image ``f`` and the sources ``a`` (IR) and ``b`` (visible).

    Args:
        f: Fused grey image.
        a: First source (infrared) grey image.
        b: Second source (visible) grey image.
        min_side: Smallest allowed height and width.

    Returns:
        ``(f, a, b)`` as float64 2-D arrays of one shape.

    Raises:
        ShapeMismatchError: The three shapes differ, or one is not 2-D / too small.
        ConfigError: Non-numeric dtype or non-finite values.
    """
    shapes = {"F": np.shape(f), "A": np.shape(a), "B": np.shape(b)}
    if len(set(shapes.values())) != 1:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ShapeMismatchError(
            f"fused and source images must have the same shape; got {listed}. "
            "Resize or crop them to a common size first."
        )
    return (
        as_grey(f, "F (fused)", min_side),
        as_grey(a, "A (infrared source)", min_side),
        as_grey(b, "B (visible source)", min_side),
    )


def grey_levels(x: np.ndarray) -> np.ndarray:
    """Flattened 8-bit levels of a grey image: rounded (half to even) and clipped to [0, 255].

    Histogram metrics (EN, MI) need integer bins; images from :func:`grey_from_rgb` are
    already integral, so this only matters for raw float inputs.
    """
    return np.clip(np.rint(x), 0, 255).astype(np.intp).ravel()
