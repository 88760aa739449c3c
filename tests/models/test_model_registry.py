"""The model registry: names, parameter counts against the spec, override handling."""

from __future__ import annotations

import pytest

from edgefuse.errors import ConfigError, UnknownNameError
from edgefuse.models import DTPF, MODELS, count_params, create_model

# PAPER_SPEC.md 1.2 / 2.2 (COMPUTED from the official definitions; text encoder excluded).
TEACHER_PARAMS = 40_289_814
STUDENT_PARAMS = 4_371_772


def test_registered_names() -> None:
    assert MODELS.names() == ["dtpf_student", "dtpf_teacher", "edge_nano", "edge_nano_agc", "edge_nano_rx", "edge_nano_sp", "edge_small", "edge_teacher"]


def test_teacher_param_count(teacher: DTPF) -> None:
    n = count_params(teacher)
    assert abs(n - TEACHER_PARAMS) <= 0.01 * TEACHER_PARAMS
    assert n == TEACHER_PARAMS


def test_student_param_count(student: DTPF) -> None:
    n = count_params(student)
    assert abs(n - STUDENT_PARAMS) <= 0.01 * STUDENT_PARAMS
    assert n == STUDENT_PARAMS
    assert count_params(student, trainable_only=True) == STUDENT_PARAMS


def test_teacher_text_dim_override() -> None:
    model = create_model("dtpf_teacher", text_dim=384, num_refinement_blocks=None)
    assert model.text_dim == 384
    assert all(g.mlp[0].in_features == 384 for g in model.guides)
    # only the first Linear of each Guide shrinks: 128 inputs fewer per level width
    assert count_params(model) == TEACHER_PARAMS - 128 * (48 + 96 + 192 + 384)


def test_create_model_drops_none_and_rejects_unknown() -> None:
    model = create_model("dtpf_student", dim=None, text_dim=None)
    assert model.feature_channels == (128, 64, 32, 32)
    with pytest.raises(ConfigError, match="num_block"):
        create_model("dtpf_student", num_block=(1, 1, 1, 1))
    with pytest.raises(UnknownNameError, match="dtpf_student"):
        create_model("dtpf_studnet")
