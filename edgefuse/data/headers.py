"""Cheap checks of PNG/JPEG files before and after decoding: header size, JPEG marker structure, libjpeg fill.

Decoding a 50 000 x 50 000 PNG or a JPEG whose scan data was cut short costs memory or gives
wrong pixels silently (OpenCV only prints libjpeg's "Corrupt JPEG data" warning). These helpers
read the size from the header so a bomb is refused before decoding, and recognise a JPEG whose
scan ended early even when an end-of-image marker was appended.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
# start-of-frame markers: baseline, extended, progressive, lossless (not DHT C4, JPG C8, DAC CC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length
LIBJPEG_FILL = 128  # the level of blocks libjpeg leaves without coefficients when the scan data run out


@dataclass(frozen=True)
class JpegFrame:
    """What the SOF header of a JPEG says: size and the MCU size in pixels."""

    width: int
    height: int
    mcu_w: int
    mcu_h: int


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or ``None`` when ``data`` is no PNG."""
    if data[:8] != _PNG_SIG or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def jpeg_frame(data: bytes) -> JpegFrame | None:
    """The frame header of a JPEG (``None``: not a JPEG or no readable SOF)."""
    segments = jpeg_segments(data)
    if segments is None:
        return None
    for marker, start, length in segments:
        if marker in _SOF and length >= 8:
            seg = data[start:start + length]
            h, w, n = struct.unpack(">HHB", seg[1:6])
            factors = [(seg[7 + 3 * i] >> 4, seg[7 + 3 * i] & 15) for i in range(n) if 8 + 3 * i < len(seg)]
            hmax = max((f[0] for f in factors), default=1) or 1
            vmax = max((f[1] for f in factors), default=1) or 1
            if n == 1:  # a single component is not interleaved: one block per MCU
                hmax = vmax = 1
            return JpegFrame(int(w), int(h), 8 * hmax, 8 * vmax)
    return None


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]] | None:
    """(marker, payload start, payload length) of each header segment up to the first SOS.

    ``None`` when ``data`` does not start with SOI or a segment length runs past the end.
    """
    if data[:2] != b"\xff\xd8":
        return None
    out: list[tuple[int, int, int]] = []
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if length < 2 or i + 2 + length > n:
            return None
        out.append((marker, i + 4, length - 2))
        if marker == 0xDA:  # SOS: entropy-coded data follow
            return out
        i += 2 + length
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG or JPEG header without decoding; ``None`` for other formats."""
    size = png_size(data)
    if size is not None:
        return size
    frame = jpeg_frame(data)
    return (frame.width, frame.height) if frame is not None else None


def jpeg_problem(data: bytes) -> str | None:
    """Why a JPEG's marker structure is broken (no SOF, no SOS, no end-of-image marker), else ``None``."""
    segments = jpeg_segments(data)
    if segments is None:
        return "its header segments are cut off or malformed"
    markers = {m for m, _, _ in segments}
    if not markers & _SOF:
        return "it has no frame header (SOF)"
    if 0xDA not in markers:
        return "it has no scan (SOS)"
    if b"\xff\xd9" not in data[-4096:]:
        return "it has no end-of-image marker"
    return None


def scan_ended_early(img: np.ndarray, frame: JpegFrame) -> bool:
    """Whether the decoded JPEG ``img`` shows libjpeg's fill for scan data that ran out.

    When the entropy-coded data end before the last MCU (a truncated file, with or without an
    appended end-of-image marker), libjpeg warns and leaves the remaining blocks without
    coefficients: exactly mid-grey (128) in every channel. So the tell is a last MCU row whose
    bottom pixel row and bottom-right MCU are all exactly 128 while the image above is not flat.
    A genuine JPEG whose last MCU row is exactly mid-grey cannot be told apart and is refused too
    (no such file among the 442 JPEGs of the shared benchmark data).
    """
    h, w = img.shape[:2]
    if h < 2 or w < 1:
        return False
    last_row = img[h - 1]
    if not np.all(last_row == LIBJPEG_FILL):
        return False
    top = (h - 1) // frame.mcu_h * frame.mcu_h
    left = (w - 1) // frame.mcu_w * frame.mcu_w
    if not np.all(img[top:, left:] == LIBJPEG_FILL):
        return False
    return not np.all(img[: max(top, 1)] == LIBJPEG_FILL)
