"""PairedCropDataset / FullImageDataset: aligned crops, augmentation, determinism, guards."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from edgefuse.errors import ConfigError, DataError
from edgefuse.train.dataset import FullImageDataset, PairedCropDataset, collate_samples, split_holdout
from tests.helpers import SAMPLES, textured, write_pair_dataset

H, W = 40, 56


def _same_pattern_dataset(root: Path, n: int = 4, h: int = H, w: int = W) -> Path:
    """IR and all three visible channels carry the same (asymmetric) texture."""
    (root / "ir").mkdir(parents=True)
    (root / "vi").mkdir(parents=True)
    for i in range(n):
        img = textured(h, w, seed=i)
        cv2.imwrite(str(root / "ir" / f"p{i}.png"), img)
        cv2.imwrite(str(root / "vi" / f"p{i}.png"), np.stack([img] * 3, axis=2))
    return root


def _orientations(img: np.ndarray, rot90: bool) -> list[np.ndarray]:
    outs = [img, img[::-1], img[:, ::-1], img[::-1, ::-1]]
    return outs + [np.rot90(o) for o in outs] if rot90 else outs


def _is_window_of(crop: np.ndarray, img: np.ndarray, rot90: bool) -> bool:
    """True if ``crop`` is some orientation of a window of ``img``."""
    for o in _orientations(crop, rot90):
        ch, cw = o.shape
        if ch > img.shape[0] or cw > img.shape[1]:
            continue
        win = np.lib.stride_tricks.sliding_window_view(img, (ch, cw))
        if (win == o).all(axis=(2, 3)).any():
            return True
    return False


@pytest.mark.parametrize("rot90", [False, True])
def test_crops_are_aligned_and_augmented(tmp_path, rot90):
    root = _same_pattern_dataset(tmp_path / "train")
    ds = PairedCropDataset([root], crop=16, seed=1, rotate90=rot90, part="all", samples_per_epoch=40)
    originals = {f"p{i}": textured(H, W, seed=i) for i in range(4)}
    for i in range(len(ds)):
        item = ds[i]
        assert item["vis"].shape == (3, 16, 16) and item["ir"].shape == (1, 16, 16)
        assert item["vis"].dtype == torch.float32 and 0.0 <= item["vis"].min() and item["vis"].max() <= 1.0
        assert torch.equal(item["vis"], item["ir"].expand(3, -1, -1))  # same crop, same augmentation
        crop = np.round(item["ir"][0].numpy() * 255).astype(np.uint8)
        assert _is_window_of(crop, originals[item["name"]], rot90)
    # augmentation really changes orientations: some crops are not plain windows
    plain = sum(_is_window_of_plain(ds[i], originals) for i in range(len(ds)))
    assert 0 < plain < len(ds)
    if rot90:  # and some crops are explained only by the 90-degree rotation
        crops = [
            (np.round(ds[i]["ir"][0].numpy() * 255).astype(np.uint8), ds[i]["name"]) for i in range(len(ds))
        ]
        assert not all(_is_window_of(c, originals[n], rot90=False) for c, n in crops)


def _is_window_of_plain(item, originals) -> bool:
    crop = np.round(item["ir"][0].numpy() * 255).astype(np.uint8)
    win = np.lib.stride_tricks.sliding_window_view(originals[item["name"]], crop.shape)
    return bool((win == crop).all(axis=(2, 3)).any())


def test_deterministic_per_seed_epoch_and_index(tmp_path):
    root = write_pair_dataset(tmp_path / "train", ["a", "b", "c"])
    kw = dict(crop=24, part="all", samples_per_epoch=12)
    a, b, c = (
        PairedCropDataset(root, seed=5, **kw),
        PairedCropDataset(root, seed=5, **kw),
        PairedCropDataset(root, seed=6, **kw),
    )
    assert all(
        torch.equal(a[i]["vis"], b[i]["vis"]) and torch.equal(a[i]["ir"], b[i]["ir"]) for i in range(12)
    )
    assert not all(torch.equal(a[i]["vis"], c[i]["vis"]) for i in range(12))
    first = [a[i]["ir"] for i in range(12)]
    a.set_epoch(1)
    assert not all(torch.equal(first[i], a[i]["ir"]) for i in range(12))
    a.set_epoch(0)
    assert all(torch.equal(first[i], a[i]["ir"]) for i in range(12))
    assert [a[i]["name"] for i in range(4)] == ["a", "b", "c", "a"]  # index % n_pairs
    with pytest.raises(IndexError):
        a[12]


def test_small_images_are_reflect_padded(tmp_path):
    root = _same_pattern_dataset(tmp_path / "train", n=2)
    ds = PairedCropDataset(root, crop=64, part="all")
    item = ds[0]
    assert item["vis"].shape == (3, 64, 64) and torch.equal(item["vis"], item["ir"].expand(3, -1, -1))
    with pytest.raises(ConfigError, match="square"):
        PairedCropDataset(root, crop=(16, 24), rotate90=True, part="all")


def test_test_split_guard(tmp_path):
    root = write_pair_dataset(tmp_path / "msrs" / "test", ["a", "b"])
    for make in (
        lambda **k: PairedCropDataset([root], crop=8, **k),
        lambda **k: FullImageDataset([root], **k),
    ):
        with pytest.raises(ConfigError, match=str(root)):
            make()
        assert len(make(allow_test=True, part="all")) == 2
    link = tmp_path / "train"
    link.symlink_to(root, target_is_directory=True)
    with pytest.raises(ConfigError, match="test"):
        PairedCropDataset([link], crop=8)


def test_split_holdout_counts():
    assert [len(x) for x in split_holdout(range(30))] == [28, 2]
    assert [len(x) for x in split_holdout(range(1083))] == [1028, 55]
    assert [len(x) for x in split_holdout(range(20))] == [19, 1]
    assert split_holdout(list("abc")) == (["a", "b"], ["c"])
    with pytest.raises(DataError):
        split_holdout(["only"])
    with pytest.raises(ConfigError):
        split_holdout(range(10), fraction=0.0)


def test_parts_and_full_image_dataset(tmp_path):
    names = [f"n{i:02d}" for i in range(20)]
    root = write_pair_dataset(tmp_path / "train", names)
    train = PairedCropDataset(root, crop=8)
    assert [n for _, n in train.names] == names[:19]
    val = FullImageDataset(root)
    assert [n for _, n in val.names] == ["n19"]
    item = val[0]
    assert item["vis"].shape == (3, H, W) and item["ir"].shape == (1, H, W) and item["root"] == str(root)
    assert len(FullImageDataset(root, part="all")) == 20


def test_events_and_collate(tmp_path):
    root = write_pair_dataset(tmp_path / "train", ["a", "b"])
    weights = {"max": 1, "consist": 1, "grad": 1, "ssim": 1, "color": 1, "ir_compose": 1}
    events = {"a": [weights, weights], "b": []}
    ds = PairedCropDataset(root, crop=8, events=events, part="all")
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate_samples)))
    assert batch["vis"].shape == (2, 3, 8, 8) and batch["events"] == [[weights, weights], []]
    assert batch["name"] == ["a", "b"]
    with pytest.raises(DataError, match="no entry"):
        PairedCropDataset(root, crop=8, events={"a": []}, part="all")
    by_call = PairedCropDataset(root, crop=8, events=lambda r, n: n.upper(), part="all")
    assert by_call[1]["events"] == "B"


def test_reads_bundled_samples_with_varied_sizes():
    ds = PairedCropDataset(SAMPLES / "ivf", crop=128, part="all", samples_per_epoch=4)
    assert ds.num_pairs == 2
    assert all(ds[i]["vis"].shape == (3, 128, 128) and ds[i]["ir"].shape == (1, 128, 128) for i in range(4))
