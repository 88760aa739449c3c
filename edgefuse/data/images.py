"""Reading infrared/visible images with one convention, and writing outputs atomically."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from edgefuse.errors import ConfigError, DataError
from edgefuse.data.headers import JpegFrame, header_size, jpeg_frame, jpeg_problem, scan_ended_early
from edgefuse.files import write_bytes_atomic  # noqa: F401  (re-exported: the one atomic writer)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SIXTEEN_BIT_MODES = ("scale", "minmax")

# JPEG files end with the EOI marker, PNG files with an IEND chunk. OpenCV decodes a
# truncated JPEG with only a libjpeg warning (grey bottom rows), so we check the ends.
_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = b"IEND"

# Limits checked before decoding: a file size and a pixel count (read from the PNG/JPEG header),
# so a device file or a decompression bomb is refused instead of exhausting memory.
MAX_FILE_BYTES = 512 << 20
MAX_PIXELS = 200_000_000


def _read_bytes(path: Path) -> bytes:
    """The bytes of a regular image file no larger than :data:`MAX_FILE_BYTES`.

    FIFOs, devices (``/dev/zero`` linked as ``x.png``) and sockets would hang or exhaust memory
    on a plain read, so the resolved file is checked with ``os.stat`` first.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except RuntimeError:  # a symlink loop on some Pythons
        raise DataError(f"cannot read {path}: a symbolic link loop") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"expected an image file but {path} is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path} is not a regular file (a FIFO, device or socket); give an image file")
    if st.st_size > MAX_FILE_BYTES:
        raise DataError(f"{path} is {st.st_size / 2**20:.0f} MiB, more than the {MAX_FILE_BYTES >> 20} MiB an "
                        "image file may have here; is it really an image?")
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
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


def _check_header(path: Path, data: bytes) -> JpegFrame | None:
    """Refuse broken JPEG structure and images too large to decode, from the header alone."""
    frame = None
    if data[:2] == b"\xff\xd8":
        problem = jpeg_problem(data)
        if problem is not None:
            raise DataError(f"{path} is a corrupt JPEG: {problem}; re-export or re-copy it")
        frame = jpeg_frame(data)
    size = header_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise DataError(f"{path} is {size[0]}x{size[1]} pixels, more than the {MAX_PIXELS:,} an image may have "
                        "here (decoding it would need too much memory); downscale it first")
    return frame


def _decode(path: Path) -> np.ndarray:
    data = _read_bytes(path)
    _check_complete(path, data)
    frame = _check_header(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise DataError(
            f"cannot decode {path}: not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})"
        )
    if frame is not None and (img.shape[1], img.shape[0]) != (frame.width, frame.height):
        raise DataError(f"{path} is a corrupt JPEG: it decodes to {img.shape[1]}x{img.shape[0]}, its header "
                        f"says {frame.width}x{frame.height}; re-export or re-copy it")
    if frame is not None and scan_ended_early(img, frame):
        raise DataError(f"{path} is a corrupt JPEG: its scan data end before the last rows (a truncated file, "
                        "grey bottom rows); re-export or re-copy it")
    return img


def _to_uint8(img: np.ndarray, path: Path, sixteen_bit: str) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        if sixteen_bit == "scale":  # full-range 16-bit: 65535 -> 255
            return round_u8(img.astype(np.float64) / 257.0)
        if sixteen_bit == "minmax":  # raw radiometric data: stretch the used range
            lo, hi = float(img.min()), float(img.max())
            scaled = (img.astype(np.float64) - lo) * (255.0 / max(hi - lo, 1.0))
            return round_u8(scaled)
        raise ConfigError(
            f"sixteen_bit={sixteen_bit!r} is not a mode; use one of {', '.join(SIXTEEN_BIT_MODES)}"
        )
    if img.dtype in (np.float32, np.float64):
        return u8_from_float(img)
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
    return round_u8(grey)


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


def write_image(path: str | os.PathLike[str], img: np.ndarray, inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write an RGB (HxWx3) or grey (HxW) uint8 image atomically; return the path.

    ``inputs`` are the files the image came from: writing over one of them is refused.

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
    write_bytes_atomic(p, buf.tobytes(), inputs)
    return p


def float_from_u8(img: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]."""
    return img.astype(np.float32) * (1.0 / 255.0)


def round_u8(levels: np.ndarray) -> np.ndarray:
    """Float grey levels (0..255 scale) -> uint8: the one rounding rule of edgefuse.

    Round half to even (``np.rint``), then clip to [0, 255]. Every float -> 8-bit conversion
    in the package goes through here (``u8_from_float`` included), so the image written by
    ``fuse``, the image ``bench --data`` scores and the image the export parity scores are the
    same pixels. Half to even rather than half up: it is what OpenCV (``saturate_cast``,
    ``cvRound``), ``torch.round`` and numpy already do, so arrays converted by those libraries
    agree with ours, and it has no upward bias on ties (``k + 0.5`` levels, which exact inputs
    such as averages of two 8-bit pixels hit often).
    """
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def u8_from_float(img: np.ndarray) -> np.ndarray:
    """float image in [0, 1] -> uint8: clipped, scaled by 255 in float64, rounded by ``round_u8``.

    The product is exact in float64 for float32 inputs (model outputs), so each pixel is the
    rounding of the input's own value; a float32 product would round twice, and can land on a tie.
    """
    return round_u8(np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0) * 255.0)


def u8_hwc(fused: np.ndarray) -> np.ndarray:
    """A fused graph output, (1, 3, H, W) or (3, H, W) float in [0, 1] -> HxWx3 uint8 RGB (``u8_from_float``)."""
    arr = np.asarray(fused)
    if arr.ndim == 4:
        arr = arr[0]
    return u8_from_float(arr.transpose(1, 2, 0))
