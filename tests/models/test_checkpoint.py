"""Checkpoints: round trip, cards, and clear errors on bad files."""

from __future__ import annotations

import json

import pytest
import torch

from edgefuse.errors import CheckpointError
from edgefuse.models import create_model
from edgefuse.models.checkpoint import card_path, load_checkpoint, save_checkpoint


@pytest.fixture()
def saved(tmp_path):
    model = create_model("edge_nano", widths=(8, 8, 8))
    torch.nn.init.normal_(model.head.weight)
    path = save_checkpoint(model, tmp_path / "m.safetensors", "edge_nano", {"widths": (8, 8, 8)},
                           {"training": {"iterations": 3}})
    return model, path


def test_round_trip(saved):
    model, path = saved
    loaded, card = load_checkpoint(path)
    assert card["architecture"] == "edge_nano" and card["training"]["iterations"] == 3
    assert card["params"] == sum(p.numel() for p in model.parameters())
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    assert not loaded.training


def test_wrong_architecture_requested(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="holds a 'edge_nano' model, not 'dtpf_student'"):
        load_checkpoint(path, architecture="dtpf_student")


def test_corrupt_and_missing(saved, tmp_path):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-10:] = b"0123456789"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_card_of_other_architecture_config(saved):
    _, path = saved
    card = json.loads(card_path(path).read_text())
    card["config"] = {}  # default widths: the stored tensors no longer fit
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        load_checkpoint(path)


def test_missing_card(saved):
    _, path = saved
    card_path(path).unlink()
    with pytest.raises(CheckpointError, match="no model card"):
        load_checkpoint(path)
