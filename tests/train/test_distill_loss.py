"""DistillLoss: zero at identity, frozen adapters, detached teacher, shape errors."""

from __future__ import annotations

import pytest
import torch

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.train.distill_loss import STUDENT_FEATURE_CHANNELS, TEACHER_FEATURE_CHANNELS, DistillLoss
from edgefuse.train.losses import fusion_loss

CHANNELS = (8, 6, 4, 4)
SIZES = (4, 8, 16, 32)  # levels 4..1 of a 32x32 crop


def _feats(channels=CHANNELS, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(2, c, s, s, generator=g).requires_grad_(requires_grad)
        for c, s in zip(channels, SIZES, strict=True)
    ]


def _images(seed=1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(2, 3, 32, 32, generator=g),
        torch.rand(2, 3, 32, 32, generator=g),
        torch.rand(2, 1, 32, 32, generator=g),
    )


def _identity_(loss: DistillLoss) -> None:
    with torch.no_grad():
        for conv in loss.adapters.convs:
            conv.weight.copy_(torch.eye(conv.out_channels).view(conv.out_channels, conv.in_channels, 1, 1))
            conv.bias.zero_()


def test_only_base_term_when_student_equals_teacher():
    loss = DistillLoss(CHANNELS, CHANNELS)
    _identity_(loss)
    fused, vis, ir = _images()
    feats = _feats()
    total, parts = loss(fused, fused.clone(), feats, [f.clone() for f in feats], vis, ir)
    assert parts["feat"].item() == pytest.approx(0.0, abs=1e-7)
    assert parts["res"].item() == 0.0
    base = fusion_loss(fused, vis, ir)[0]
    assert total.item() == pytest.approx(base.item(), rel=1e-6)
    assert parts["base"].item() == pytest.approx(base.item(), rel=1e-6)
    # n(x) makes the feature term invariant to a per-pixel positive scale of the student
    _, parts2 = loss(fused, fused, [2.5 * f for f in feats], feats, vis, ir)
    assert parts2["feat"].item() == pytest.approx(0.0, abs=1e-7)


def test_weights_scale_the_terms():
    fused_s, vis, ir = _images(1)
    fused_t = _images(2)[0]
    fs, ft = _feats(seed=3), _feats(seed=4)
    ref = DistillLoss(CHANNELS, CHANNELS, w_feat=1.0, w_res=1.0, w_base=1.0)
    scaled = DistillLoss(CHANNELS, CHANNELS, w_feat=0.1, w_res=2.0, w_base=0.5)
    scaled.load_state_dict(ref.state_dict())
    _, a = ref(fused_s, fused_t, fs, ft, vis, ir)
    total, b = scaled(fused_s, fused_t, fs, ft, vis, ir)
    assert b["feat"].item() == pytest.approx(0.1 * a["feat"].item(), rel=1e-6)
    assert b["res"].item() == pytest.approx(2.0 * a["res"].item(), rel=1e-6)
    assert b["base"].item() == pytest.approx(0.5 * a["base"].item(), rel=1e-6)
    assert total.item() == pytest.approx(b["feat"].item() + b["res"].item() + b["base"].item(), rel=1e-6)
    with_teacher = DistillLoss(CHANNELS, CHANNELS, teacher_base_term=True)
    with_teacher.load_state_dict(ref.state_dict())
    t_total, t_parts = with_teacher(fused_s, fused_t, fs, ft, vis, ir)
    assert t_parts["teacher_base"].item() == pytest.approx(fusion_loss(fused_t, vis, ir)[0].item(), rel=1e-6)


def test_frozen_adapters_get_no_grad_and_teacher_is_detached():
    loss = DistillLoss(CHANNELS, CHANNELS, trainable_adapters=False)
    assert all(not p.requires_grad for p in loss.adapters.parameters())
    assert loss.adapter_parameters() == []
    fused_s = torch.rand(2, 3, 32, 32, requires_grad=True)
    fused_t = torch.rand(2, 3, 32, 32, requires_grad=True)
    fs, ft = _feats(seed=5, requires_grad=True), _feats(seed=6, requires_grad=True)
    _, vis, ir = _images()
    total, _ = loss(fused_s, fused_t, fs, ft, vis, ir)
    total.backward()
    assert all(p.grad is None for p in loss.adapters.parameters())
    assert fused_t.grad is None and all(t.grad is None for t in ft)
    assert torch.isfinite(fused_s.grad).all() and all(
        torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0 for s in fs
    )


def test_trainable_adapters_receive_gradients():
    loss = DistillLoss(CHANNELS, CHANNELS)
    assert len(loss.adapter_parameters()) == 8
    fused, vis, ir = _images()
    total, _ = loss(fused, fused, _feats(seed=7), _feats(seed=8), vis, ir)
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in loss.adapter_parameters())


def test_dtpf_adapter_shapes():
    loss = DistillLoss(TEACHER_FEATURE_CHANNELS, STUDENT_FEATURE_CHANNELS, trainable_adapters=False)
    shapes = [tuple(c.weight.shape) for c in loss.adapters.convs]
    assert shapes == [(128, 384, 1, 1), (64, 192, 1, 1), (32, 96, 1, 1), (32, 96, 1, 1)]
    assert all(c.bias is not None for c in loss.adapters.convs)


def test_shape_errors():
    loss = DistillLoss(CHANNELS, CHANNELS)
    fused, vis, ir = _images()
    fs, ft = _feats(), _feats()
    ft[2] = torch.randn(2, 4, 15, 16)
    with pytest.raises(ShapeMismatchError, match="level 2"):
        loss(fused, fused, fs, ft, vis, ir)
    with pytest.raises(ShapeMismatchError, match="4 feature levels"):
        loss(fused, fused, fs[:3], _feats()[:3], vis, ir)
    with pytest.raises(ShapeMismatchError, match="channels"):
        loss(fused, fused, fs, _feats(channels=(8, 6, 4, 5)), vis, ir)
    with pytest.raises(ConfigError):
        DistillLoss((8, 6), (8,))
