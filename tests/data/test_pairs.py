"""Pairing IR and visible files by name, and the errors on bad folders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgefuse.data.pairs import check_pairs, find_pairs, load_pair, pairs_from_folders
from edgefuse.errors import DataError
from tests.helpers import SAMPLES, write_pair_dataset


def test_pairs_by_name(tmp_path):
    write_pair_dataset(tmp_path, ["b", "a", "c"])
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b", "c"]
    assert pairs[0].ir.parent.name == "ir" and pairs[0].vis.parent.name == "vi"


def test_medical_layout(tmp_path):
    write_pair_dataset(tmp_path, ["11"], layout=("mri", "other"))
    (pair,) = find_pairs(tmp_path)
    assert pair.ir.parent.name == "mri"
    loaded = load_pair(pair)
    assert loaded.ir.ndim == 2 and loaded.vis.shape[2] == 3


def test_pairs_across_suffixes(tmp_path):
    write_pair_dataset(tmp_path, ["x"])
    (tmp_path / "vi" / "x.png").rename(tmp_path / "vi" / "x.tif")
    assert find_pairs(tmp_path)[0].vis.suffix == ".tif"


def test_missing_partner_lists_names(tmp_path):
    write_pair_dataset(tmp_path, ["a", "b"])
    (tmp_path / "vi" / "b.png").unlink()
    with pytest.raises(DataError, match=r"no visible partner .* for b"):
        find_pairs(tmp_path)


def test_empty_folder(tmp_path):
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    with pytest.raises(DataError, match="no images in"):
        find_pairs(tmp_path)


def test_file_where_folder_expected(tmp_path):
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(DataError, match="must be a folder"):
        find_pairs(tmp_path / "f.png")
    with pytest.raises(DataError, match="must be a folder"):
        pairs_from_folders(tmp_path / "f.png", tmp_path)


def test_no_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match=r"expected one of: ir/ \+ vi/.*found: images/"):
        find_pairs(tmp_path)


def test_size_mismatch_names_both_files(tmp_path):
    write_pair_dataset(tmp_path, ["a"])
    cv2.imwrite(str(tmp_path / "vi" / "a.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(DataError, match=r"different sizes: .*ir/a.png is 56x40, .*vi/a.png is 10x10"):
        check_pairs(find_pairs(tmp_path))


def test_bundled_samples():
    assert [p.name for p in find_pairs(SAMPLES / "ivf")] == ["00004N", "FLIR_00211"]
    assert [p.name for p in find_pairs(SAMPLES / "medical")] == ["11"]


def test_shared_msrs_test(shared_data):
    pairs = find_pairs(shared_data / "msrs" / "test")
    assert len(pairs) == 20
    loaded = load_pair(pairs[0])
    assert loaded.ir.shape == (480, 640) and loaded.vis.shape == (480, 640, 3)
