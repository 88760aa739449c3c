"""Input checks before and after decoding: regular files, size caps, header pixel counts, corrupt JPEG scans."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

import edgefuse.data.images as images
from edgefuse.data.headers import header_size, jpeg_frame
from edgefuse.data.images import read_ir, read_vis
from edgefuse.data.pairs import find_pairs
from edgefuse.errors import DataError
from tests.helpers import textured

ROADSCENE = "roadscene/test"


def _real_jpegs(shared_data, n=6):
    folder = shared_data / ROADSCENE / "vi"
    files = sorted(folder.glob("*.jpg"))[:n]
    if not files:
        pytest.skip(f"no JPEGs in {folder}")
    return files + sorted((shared_data / ROADSCENE / "ir").glob("*.jpg"))[:n]


def test_real_jpegs_read_and_their_header_sizes_match(shared_data):
    for f in _real_jpegs(shared_data):
        data = f.read_bytes()
        img = read_vis(f)
        assert header_size(data) == (img.shape[1], img.shape[0])
        assert jpeg_frame(data).mcu_h in (8, 16)


def test_truncated_jpeg_with_end_marker_appended_is_refused(shared_data, tmp_path):
    for f in _real_jpegs(shared_data):
        data = f.read_bytes()
        bad = tmp_path / f.name
        bad.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
        assert cv2.imdecode(np.frombuffer(bad.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED) is not None  # OpenCV takes it
        with pytest.raises(DataError, match="corrupt JPEG: its scan data end before the last rows"):
            read_vis(bad)


def test_jpeg_with_broken_segments_is_refused(tmp_path):
    ok, buf = cv2.imencode(".jpg", textured(64, 80, seed=1))
    data = buf.tobytes()
    p = tmp_path / "x.jpg"
    p.write_bytes(data[:2] + b"\xff\xe0\xff\xff" + data[2:])  # a segment length running past the end
    with pytest.raises(DataError, match="corrupt JPEG"):
        read_ir(p)


def test_synthetic_jpegs_with_grey_content_still_read(tmp_path):
    flat = np.full((64, 80), 128, np.uint8)  # all mid-grey: the "fill" test must not call the whole image corrupt
    for i, img in enumerate((flat, textured(64, 80, seed=3))):
        p = tmp_path / f"g{i}.jpg"
        cv2.imwrite(str(p), img)
        assert read_ir(p).shape == (64, 80)


def _png_header(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header(50_000, 50_000))
    with pytest.raises(DataError, match="50000x50000 pixels"):
        read_ir(p)


def test_file_size_cap(tmp_path, monkeypatch):
    p = tmp_path / "big.png"
    cv2.imwrite(str(p), textured(64, 64, seed=4))
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match="is 0 MiB, more than"):
        read_ir(p)


def test_listing_permission_error_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    from pathlib import Path

    real = Path.iterdir

    def denied(self):
        if self.name in ("ir", "vi"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(DataError, match="cannot list .*: Permission denied"):
        find_pairs(tmp_path)
