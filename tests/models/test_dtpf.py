"""DTPF forward behaviour: shapes, range, padding/cropping, features, text handling, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.models import DTPF, MODELS
from edgefuse.models.layers import TextGuide
from edgefuse.models.layers.attention import attention_layers
from tests.models.dtpf_helpers import pair, tiny


def _inputs(model: DTPF, height: int, width: int) -> tuple[torch.Tensor, ...]:
    vis, ir = pair(height, width)
    if model.text_dim is None:
        return vis, ir
    return vis, ir, torch.randn(1, model.text_dim)


FEATURE_CHANNELS = {"dtpf_teacher": (384, 192, 96, 96), "dtpf_student": (128, 64, 32, 32)}


@pytest.mark.parametrize("name", MODELS.names())
def test_registered_model_forward(name: str, build_model: Callable[[str], DTPF]) -> None:
    """Output shape/range and the [D4, D3, D2, D1] features from one forward per model."""
    model = build_model(name)
    with torch.no_grad():
        fused, feats = model(*_inputs(model, 64, 64), return_features=True)
    assert fused.shape == (1, 3, 64, 64)
    assert torch.isfinite(fused).all()
    assert fused.min() >= 0.0 and fused.max() <= 1.0
    channels = FEATURE_CHANNELS.get(name, model.feature_channels)
    assert [f.shape[1] for f in feats] == list(channels) == list(model.feature_channels)
    assert [tuple(f.shape[-2:]) for f in feats] == [(8, 8), (16, 16), (32, 32), (64, 64)]


def test_student_pads_width_and_crops(student: DTPF) -> None:
    vis, ir = pair(64, 96)
    with torch.no_grad():
        fused, feats = student(vis, ir, return_features=True)
    assert fused.shape == (1, 3, 64, 96)
    assert [tuple(f.shape[-2:]) for f in feats] == [(8, 12), (16, 24), (32, 48), (64, 96)]


@pytest.mark.parametrize(("size", "batch"), [((70, 90), 1), ((20, 30), 2), ((64, 64), 1)])
def test_odd_sizes_keep_their_size(size: tuple[int, int], batch: int) -> None:
    model = tiny()
    vis, ir = pair(*size, batch=batch)
    with torch.no_grad():
        fused, feats = model(vis, ir, return_features=True)
    h, w = size
    assert fused.shape == (batch, 3, h, w)
    with torch.no_grad():
        assert model(vis, ir).shape == fused.shape  # a plain tensor without return_features
    strides = (8, 4, 2, 1)
    assert [tuple(f.shape[-2:]) for f in feats] == [(-(-h // s), -(-w // s)) for s in strides]
    assert model.padded_size(h, w) == (-(-h // 64) * 64, -(-w // 64) * 64)


def test_unclamped_output_is_conv_plus_vis() -> None:
    model = tiny(clamp_output=False)
    nn.init.constant_(model.output.weight, 1.0)
    vis, ir = pair(64, 64)
    with torch.no_grad():
        raw = model(vis, ir)
        model.clamp_output = True
        clamped = model(vis, ir)
    assert raw.min() < 0.0 or raw.max() > 1.0
    torch.testing.assert_close(clamped, raw.clamp(0.0, 1.0))


def test_student_has_no_text_modules(student: DTPF) -> None:
    assert student.text_dim is None and student.guides is None and not student.is_teacher
    assert not any(isinstance(m, (TextGuide, nn.Linear)) for m in student.modules())


def test_teacher_text_changes_output() -> None:
    model = tiny(text_dim=16)
    assert model.is_teacher and len(model.guides) == 4
    vis, ir = pair(64, 64)
    with torch.no_grad():
        a = model(vis, ir, torch.randn(1, 16))
        b = model(vis, ir, torch.randn(1, 16))
    assert not torch.allclose(a, b)


def test_input_errors() -> None:
    student, teacher = tiny(), tiny(text_dim=16)
    vis, ir = pair(64, 64)
    with pytest.raises(ShapeMismatchError, match="vis must be"):
        student(ir, ir)
    with pytest.raises(ShapeMismatchError, match="ir must be"):
        student(vis, vis)
    with pytest.raises(ShapeMismatchError, match="differ"):
        student(vis, ir[..., :32])
    with pytest.raises(ConfigError, match="takes no text"):
        student(vis, ir, torch.zeros(1, 16))
    with pytest.raises(ConfigError, match="needs text"):
        teacher(vis, ir)
    with pytest.raises(ShapeMismatchError, match="text must be"):
        teacher(vis, ir, torch.zeros(1, 8))


@pytest.mark.parametrize(
    "kwargs",
    [dict(dim=7), dict(num_blocks=(2, 2, 2)), dict(channel_heads=(1, 2, 0, 8)), dict(text_dim=0)],
)
def test_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        DTPF(**kwargs)


def test_ocab_path_is_chosen_per_instance() -> None:
    """``windows_first`` reaches every OCAB of that network only, and both paths give the same image."""
    fast, textbook = tiny(), tiny(windows_first=False)
    assert attention_layers(fast) and all(m.windows_first for m in attention_layers(fast))
    assert not any(m.windows_first for m in attention_layers(textbook))
    vis, ir = pair(64, 64)
    with torch.no_grad():
        torch.testing.assert_close(textbook(vis, ir), fast(vis, ir), atol=1e-5, rtol=1e-5)
