"""Parameter and FLOP counting, checked against the spec's COMPUTED GFLOPs."""

from __future__ import annotations

import pytest
from torch import nn

from edgefuse.models import DTPF, count_flops, count_params
from edgefuse.models.layers.attention import attention_layers
from tests.models.dtpf_helpers import tiny


def test_count_params_trainable_only() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2, bias=False))
    model[1].weight.requires_grad_(False)
    assert count_params(model) == 21
    assert count_params(model, trainable_only=True) == 15


def test_count_flops_student_matches_spec(student: DTPF) -> None:
    # All layers are per-pixel or windowed, so FLOPs scale exactly with H * W: 256^2 = 16 x 64^2.
    gflops = count_flops(student, 64, 64)
    assert gflops * 16 == pytest.approx(65.1, abs=0.05)
    assert student.training is False


def test_count_flops_counts_the_padded_size_and_feeds_text() -> None:
    model = tiny(text_dim=8).train()  # a teacher: count_flops must feed zero text embeddings
    base = count_flops(model, 64, 64)
    # 40 x 100 is padded to 64 x 128; only the Guides' few MFLOPs do not scale with the area
    assert count_flops(model, 40, 100) == pytest.approx(2 * base, rel=1e-3)
    assert model.training is True


def test_count_flops_switches_the_ocab_path_of_the_counted_model_only() -> None:
    counted, other, textbook = tiny(), tiny(), tiny(windows_first=False)
    seen: list[tuple[bool, bool]] = []
    layer = attention_layers(counted)[0]
    hook = layer.register_forward_pre_hook(
        lambda module, args: seen.append((module.windows_first, attention_layers(other)[0].windows_first))
    )
    try:
        gflops = count_flops(counted, 64, 64)
    finally:
        hook.remove()
    assert seen and all(mine is False and theirs is True for mine, theirs in seen)
    assert all(m.windows_first for m in attention_layers(counted))  # restored
    assert count_flops(textbook, 64, 64) == pytest.approx(gflops)
    assert not any(m.windows_first for m in attention_layers(textbook))  # restored to its own choice
