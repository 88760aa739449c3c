"""Reading and atomic writing of images, including bad files."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from edgefuse.data.images import read_ir, read_rgb, read_vis, write_image
from edgefuse.errors import ConfigError, DataError, OutputError
from tests.helpers import SAMPLES, textured


def test_ir_one_and_three_channel_files_read_the_same(tmp_path):
    grey = textured(20, 30)
    cv2.imwrite(str(tmp_path / "g1.png"), grey)
    cv2.imwrite(str(tmp_path / "g3.png"), np.repeat(grey[:, :, None], 3, axis=2))
    assert read_ir(tmp_path / "g1.png").shape == (20, 30)
    np.testing.assert_array_equal(read_ir(tmp_path / "g1.png"), grey)
    np.testing.assert_array_equal(read_ir(tmp_path / "g3.png"), grey)


def test_colour_ir_uses_bt601_luma(tmp_path):
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 200  # red channel (OpenCV stores BGR)
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    # 0.299 * 200 = 59.8 -> 60
    assert read_ir(tmp_path / "red.png")[0, 0] == 60


def test_vis_is_rgb_and_grey_vis_is_replicated(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    assert tuple(read_vis(tmp_path / "blue.png")[0, 0]) == (0, 0, 255)
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((4, 4), 77, np.uint8))
    assert read_vis(tmp_path / "grey.png").shape == (4, 4, 3)
    assert (read_vis(tmp_path / "grey.png") == 77).all()


def test_sixteen_bit_png_and_tiff(tmp_path):
    img16 = (textured(10, 12).astype(np.uint16) * 257)
    for name in ("a.png", "a.tif"):
        cv2.imwrite(str(tmp_path / name), img16)
        np.testing.assert_array_equal(read_ir(tmp_path / name), textured(10, 12))
    raw = np.full((3, 3), 1000, np.uint16)
    raw[0, 0] = 3000
    cv2.imwrite(str(tmp_path / "raw.png"), raw)
    stretched = read_ir(tmp_path / "raw.png", sixteen_bit="minmax")
    assert stretched[0, 0] == 255 and stretched[1, 1] == 0
    with pytest.raises(ConfigError, match="sixteen_bit"):
        read_ir(tmp_path / "raw.png", sixteen_bit="bogus")


def test_jpeg_reads(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), textured(16, 16))
    assert read_ir(tmp_path / "a.jpg").shape == (16, 16)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_is_named(tmp_path, suffix):
    src = tmp_path / f"full{suffix}"
    cv2.imwrite(str(src), np.stack([textured(64, 64, s) for s in range(3)], axis=2))
    data = src.read_bytes()
    bad = tmp_path / f"cut{suffix}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"cut{suffix}.*truncated"):
        read_rgb(bad)


def test_unreadable_empty_missing_and_folder(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match="cannot decode .*text.png"):
        read_rgb(tmp_path / "text.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_rgb(tmp_path / "empty.png")
    with pytest.raises(DataError, match="not found"):
        read_rgb(tmp_path / "nope.png")
    with pytest.raises(DataError, match="is a folder"):
        read_rgb(tmp_path)


def test_write_roundtrip_leaves_no_temp_files(tmp_path):
    rgb = read_vis(SAMPLES / "ivf" / "vi" / "00004N.png")
    out = write_image(tmp_path / "sub" / "o.png", rgb)
    np.testing.assert_array_equal(read_vis(out), rgb)
    assert sorted(os.listdir(tmp_path / "sub")) == ["o.png"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="disk full"):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.uint8))
    assert os.listdir(tmp_path) == []


def test_write_errors(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="a file is in the way"):
        write_image(tmp_path / "afile" / "o.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ConfigError, match="suffix"):
        write_image(tmp_path / "o.xyz", np.zeros((4, 4), np.uint8))
