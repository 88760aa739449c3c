"""The grey-level reading convention the fusion metrics are computed on."""

from __future__ import annotations

import cv2
import numpy as np

from edgefuse.errors import ConfigError, ShapeMismatchError


def grey_from_rgb(img: np.ndarray) -> np.ndarray:
    """Convert an RGB (or grey) image to the float64 grey image the metrics expect.

    This is the reading convention of PAPER_SPEC section 4, which reproduces the
    CDDFuse ``Evaluator`` (S5) reference values: the image is converted to float32,
    reduced with BT.601 weights ``0.299 R + 0.587 G + 0.114 B`` exactly as OpenCV's
    ``COLOR_RGB2GRAY`` does on a float image, then rounded to the nearest integer
    (half to even, like ``np.round``). Decoding straight to 8-bit grey
    (``IMREAD_GRAYSCALE``, PIL ``'L'``) uses fixed-point weights and shifts MI and
    Qabf by up to ~4 % on single images.

    Args:
        img: ``(H, W)`` grey, ``(H, W, 1)`` grey or ``(H, W, 3)`` image in RGB channel
            order (convert OpenCV's BGR with ``cv2.cvtColor(x, cv2.COLOR_BGR2RGB)``),
            uint8 or any integer/float dtype with values in [0, 255]. Floats in [0, 1]
            are not detected: scale them by 255 first.

    Returns:
        A float64 ``(H, W)`` array of integral values in [0, 255]. A 2-D input is
        returned unchanged apart from the cast and the rounding.

    Raises:
        ShapeMismatchError: Not ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``.
        ConfigError: Non-numeric dtype, non-finite values or values outside [0, 255].
    """
    arr = np.asarray(img)
    _check_dtype_and_range(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        grey = arr.astype(np.float64)
    elif arr.ndim == 3 and arr.shape[2] == 3:
        rgb = np.ascontiguousarray(arr, dtype=np.float32)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    else:
        raise ShapeMismatchError(
            f"expected an (H, W) grey or (H, W, 3) RGB image; got shape {arr.shape}. "
            "Drop an alpha channel with img[..., :3]."
        )
    if grey.size == 0:
        raise ShapeMismatchError(f"image is empty (shape {arr.shape}).")
    return np.rint(grey)


def _check_dtype_and_range(arr: np.ndarray) -> None:
    """Raise ``ConfigError`` unless ``arr`` is numeric, finite and within [0, 255]."""
    if arr.dtype == np.bool_ or arr.dtype.kind not in "uif":
        raise ConfigError(
            f"image dtype must be uint8 or an integer/float type with values in [0, 255]; got {arr.dtype}."
        )
    if arr.size == 0:
        return
    lo, hi = float(arr.min()), float(arr.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ConfigError("image contains NaN or infinite values.")
    if lo < 0.0 or hi > 255.0:
        raise ConfigError(
            f"image values must lie in [0, 255]; got range [{lo:g}, {hi:g}]. "
            "Scale [0, 1] floats by 255 and clip before evaluating."
        )
