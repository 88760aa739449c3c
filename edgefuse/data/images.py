"""Reading infrared/visible images with one convention, and writing outputs atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edgefuse.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SIXTEEN_BIT_MODES = ("scale", "minmax")

# JPEG files end with the EOI marker, PNG files with an IEND chunk. OpenCV decodes a
# truncated JPEG with only a libjpeg warning (grey bottom rows), so we check the ends.
_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = b"IEND"


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"image not found: {path}")
    if path.is_dir():
        raise DataError(f"expected an image file but {path} is a folder")
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e


def _check_complete(path: Path, data: bytes) -> None:
    """Raise if a JPEG or PNG file is visibly truncated."""
    if not data:
        raise DataError(f"{path} is empty (0 bytes); replace it with a valid image")
    tail = data[-4096:]
    if data[:2] == b"\xff\xd8" and _JPEG_EOI not in tail:
        raise DataError(f"{path} is a truncated JPEG (no end-of-image marker); re-export or re-copy it")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and _PNG_IEND not in tail:
        raise DataError(f"{path} is a truncated PNG (no IEND chunk); re-export or re-copy it")


def _decode(path: Path) -> np.ndarray:
    data = _read_bytes(path)
    _check_complete(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise DataError(
            f"cannot decode {path}: not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})"
        )
    return img


def _to_uint8(img: np.ndarray, path: Path, sixteen_bit: str) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        if sixteen_bit == "scale":  # full-range 16-bit: 65535 -> 255
            return np.round(img.astype(np.float64) / 257.0).astype(np.uint8)
        if sixteen_bit == "minmax":  # raw radiometric data: stretch the used range
            lo, hi = float(img.min()), float(img.max())
            scaled = (img.astype(np.float64) - lo) * (255.0 / max(hi - lo, 1.0))
            return np.round(scaled).astype(np.uint8)
        raise ConfigError(
            f"sixteen_bit={sixteen_bit!r} is not a mode; use one of {', '.join(SIXTEEN_BIT_MODES)}"
        )
    if img.dtype in (np.float32, np.float64):
        return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise DataError(f"{path} has pixel type {img.dtype}; use 8- or 16-bit images")


def _rgb_from_decoded(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def grey_u8_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 image, computed in float and rounded (as the metrics read)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = rgb.astype(np.float32) @ weights
    return np.clip(np.round(grey), 0, 255).astype(np.uint8)


def read_rgb(path: str | os.PathLike[str], sixteen_bit: str = "scale") -> np.ndarray:
    """Read any supported image as an HxWx3 uint8 RGB array (grey files are replicated).

    Args:
        path: image file (PNG, JPEG, TIFF, BMP; 8- or 16-bit; 1, 3 or 4 channels).
        sixteen_bit: how 16-bit data become 8-bit: ``scale`` (divide by 257, for full-range
            files) or ``minmax`` (stretch the used range, for raw radiometric thermal data).
    """
    p = Path(path)
    return _rgb_from_decoded(_to_uint8(_decode(p), p, sixteen_bit))


def read_vis(path: str | os.PathLike[str], sixteen_bit: str = "scale") -> np.ndarray:
    """Read a visible (or CT/PET/SPECT) image as HxWx3 uint8 RGB."""
    return read_rgb(path, sixteen_bit)


def read_ir(path: str | os.PathLike[str], sixteen_bit: str = "scale") -> np.ndarray:
    """Read an infrared (or MRI) image as HxW uint8 grey.

    Single-channel files are taken as they are; 3-channel files (often R=G=B) are
    converted with BT.601 in float and rounded, the reading the metrics use.
    """
    p = Path(path)
    img = _to_uint8(_decode(p), p, sixteen_bit)
    if img.ndim == 2:
        return img
    if img.shape[2] == 1:
        return img[:, :, 0]
    return grey_u8_from_rgb(_rgb_from_decoded(img))


def write_image(path: str | os.PathLike[str], img: np.ndarray) -> Path:
    """Write an RGB (HxWx3) or grey (HxW) uint8 image atomically; return the path.

    The image is encoded in memory, written to a temporary file beside the target and
    renamed over it, so a crash never leaves a half-written file under the final name.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _WRITE_SUFFIXES:
        raise ConfigError(
            f"cannot write {p}: unknown image suffix {suffix!r}; use one of {', '.join(_WRITE_SUFFIXES)}"
        )
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise DataError(f"write_image expects uint8 HxW or HxWx3, got {img.dtype} {img.shape}")
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    ok, buf = cv2.imencode(suffix, bgr)
    if not ok:
        raise DataError(f"OpenCV could not encode an image as {suffix} for {p}")
    write_bytes_atomic(p, buf.tobytes())
    return p


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise DataError(f"cannot create output folder {parent}: a file is in the way") from e
    except OSError as e:
        raise DataError(f"cannot create output folder {parent}: {e.strerror}") from e
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise DataError(f"cannot write into {parent}: {e.strerror}; choose a writable folder") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def float_from_u8(img: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]."""
    return img.astype(np.float32) * (1.0 / 255.0)


def u8_from_float(img: np.ndarray) -> np.ndarray:
    """float image in [0, 1] -> uint8, clipped and rounded to nearest."""
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
