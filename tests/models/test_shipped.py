"""The shipped weights: present, loadable offline, documented, and better than the baselines."""

from __future__ import annotations

import pytest

from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.fusion import DEFAULT_METHOD, create_fuser, shipped_models
from edgefuse.metrics.registry import evaluate_rgb
from edgefuse.models.checkpoint import file_sha256, load_checkpoint
from tests.helpers import SAMPLES


def test_default_is_the_shipped_ivf_student():
    assert DEFAULT_METHOD == "edge_nano_ivf"
    assert {"edge_nano_ivf", "edge_nano_med", "edge_teacher_ivf"} <= set(shipped_models())


@pytest.mark.parametrize("name", ["edge_nano_ivf", "edge_nano_med", "edge_teacher_ivf"])
def test_cards_record_training(name):
    _, card = load_checkpoint(shipped_models()[name])
    training = card["training"]
    assert training["command"].startswith("edgefuse ") and training["iterations"] > 0
    assert all("test" not in d.split("/") for d in training["data"])
    assert card["metrics"]["holdout"]["VIF"] > 0


def test_student_was_distilled_from_the_shipped_teacher():
    _, card = load_checkpoint(shipped_models()["edge_nano_ivf"])
    assert card["training"]["mode"] == "distill"
    assert card["training"]["teacher_sha256"] == file_sha256(shipped_models()["edge_teacher_ivf"])


def test_default_student_beats_average_and_laplacian_on_the_msrs_sample():
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    scores = {
        m: evaluate_rgb(create_fuser(m)(pair.vis, pair.ir), pair.ir, pair.vis, ["VIF", "Qabf"])
        for m in ("edge_nano_ivf", "average", "laplacian")
    }
    for base in ("average", "laplacian"):
        assert scores["edge_nano_ivf"]["VIF"] > scores[base]["VIF"]
        assert scores["edge_nano_ivf"]["Qabf"] > scores[base]["Qabf"]
