"""Fusion loss terms against hand-computed values, gradients and per-sample event weighting."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.train.losses import (
    IVF_DEFAULT_WEIGHTS,
    MEDICAL_DEFAULT_WEIGHTS,
    FusionLoss,
    check_weights,
    color_loss,
    consistency_loss,
    fusion_loss,
    gradient_max_loss,
    intensity_max_loss,
    luma,
    ssim,
    ssim_loss,
)


def _rand(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g, dtype=torch.float64)


def _grey(values: list[list[float]]) -> torch.Tensor:
    """A (1, 3, H, W) grey RGB image (R = G = B), so Y equals the values."""
    return torch.tensor(values, dtype=torch.float64).expand(1, 3, -1, -1).clone()


def test_default_weight_tables():
    assert dict(IVF_DEFAULT_WEIGHTS) == {
        "max": 24,
        "consist": 40,
        "grad": 48,
        "ssim": 2,
        "color": 12,
        "ir_compose": 1,
    }
    assert dict(MEDICAL_DEFAULT_WEIGHTS) == {
        "max": 40,
        "consist": 80,
        "grad": 72,
        "ssim": 4,
        "color": 12,
        "ir_compose": 1,
    }


def test_intensity_max_zero_at_max_image_and_by_hand():
    vis, ir = _rand(2, 3, 5, 6, 0), _rand(2, 1, 5, 6, 1)
    mask = ir > vis.mean(1, keepdim=True)
    fused = torch.where(mask, ir.expand_as(vis), vis)
    assert intensity_max_loss(fused, vis, ir).item() == pytest.approx(0.0, abs=1e-12)
    # pixel 0: mean(V) = .4 < I = .5 -> target .5 on all channels; pixel 1: I = .1 < mean(V) -> target V
    vis = torch.tensor([[0.2, 0.4, 0.6], [0.3, 0.3, 0.3]], dtype=torch.float64).t().reshape(1, 3, 1, 2)
    ir = torch.tensor([[[[0.5, 0.1]]]], dtype=torch.float64)
    fused = torch.full((1, 3, 1, 2), 0.3, dtype=torch.float64)
    expected = (0.2 * 3 + 0.0 * 3) / 6  # |.5-.3| on pixel 0, |V-.3| = 0 on pixel 1
    assert intensity_max_loss(fused, vis, ir).item() == pytest.approx(expected)


def test_color_zero_for_identical_and_by_hand():
    vis = _rand(2, 3, 4, 4, 2)
    assert color_loss(vis.clone(), vis).item() == pytest.approx(0.0, abs=1e-12)
    vis = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    vis[:, 0] = 1.0  # pure red: Cb = -0.168736, Cr = 0.5
    assert color_loss(torch.zeros_like(vis), vis).item() == pytest.approx(0.168736 + 0.5)


def test_gradient_zero_when_fused_is_vis_and_ir_flat():
    vis = _rand(2, 3, 9, 7, 3)
    ir = torch.full((2, 1, 9, 7), 0.4, dtype=torch.float64)
    assert gradient_max_loss(vis.clone(), vis, ir).item() == pytest.approx(0.0, abs=1e-12)


def test_gradient_by_hand_on_a_ramp():
    # Y = [0, a, 2a] per row; replicate padding -> Sobel_x = 4a, 8a, 4a per row, Sobel_y = 0
    a = 0.1
    vis = _grey([[0.0, a, 2 * a]] * 3)
    zero_f, zero_i = torch.zeros_like(vis), torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    assert gradient_max_loss(zero_f, vis, zero_i).item() == pytest.approx(16 * a / 3)
    # the max is taken per pixel: an IR ramp twice as steep dominates
    ir = 2 * luma(vis)
    assert gradient_max_loss(zero_f, vis, ir).item() == pytest.approx(32 * a / 3)


def test_consistency_by_hand_2x2():
    vis = _grey([[0.2, 0.4], [0.6, 0.8]])
    ir = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]], dtype=torch.float64)
    fused = _grey([[0.5, 0.5], [0.5, 0.5]])
    to_vis = (0.3 + 0.1 + 0.1 + 0.3) / 4
    to_ir = (0.5 + 0.5 + 0.0 + 0.0) / 4
    assert consistency_loss(fused, vis, ir).item() == pytest.approx(0.5 * (to_vis + to_ir))
    assert consistency_loss(fused, vis, ir, ir_compose=3.0).item() == pytest.approx(
        0.5 * (to_vis + 3 * to_ir)
    )


@pytest.mark.parametrize("size", [(16, 20), (50, 53)])  # clipped window and the full 48x48 window
def test_ssim_term_zero_when_fused_matches(size):
    vis = _rand(2, 3, *size, 4)
    ir = luma(vis)
    assert ssim_loss(vis.clone(), vis, ir).item() == pytest.approx(0.0, abs=1e-9)


def test_ssim_of_constants_by_hand():
    a, b = 0.2, 0.6
    x = torch.full((1, 1, 50, 50), a, dtype=torch.float64)
    y = torch.full((1, 1, 50, 50), b, dtype=torch.float64)
    c1 = 0.01**2
    assert ssim(x, y).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def _ssim_2d_reference(x: torch.Tensor, y: torch.Tensor, size: int) -> torch.Tensor:
    """Plain 2-D window SSIM (non-separable) as an independent check of the separable version."""
    t = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    g = g / g.sum()
    win = torch.outer(g, g).expand(x.shape[1], 1, size, size)

    def f(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, win, groups=x.shape[1])

    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean()


def test_separable_ssim_matches_2d_window():
    x, y = _rand(1, 3, 52, 49, 5), _rand(1, 3, 52, 49, 6)
    assert ssim(x, y).item() == pytest.approx(_ssim_2d_reference(x, y, 48).item(), abs=1e-12)
    xs, ys = x[..., :20, :30], y[..., :20, :30]  # window clipped to 20
    assert ssim(xs, ys).item() == pytest.approx(_ssim_2d_reference(xs, ys, 20).item(), abs=1e-12)


def test_total_is_the_weighted_sum_and_components_add_up():
    fused, vis, ir = _rand(3, 3, 24, 24, 7), _rand(3, 3, 24, 24, 8), _rand(3, 1, 24, 24, 9)
    w = {"max": 2.0, "consist": 3.0, "grad": 5.0, "ssim": 7.0, "color": 11.0, "ir_compose": 0.5}
    total, parts = fusion_loss(fused, vis, ir, w)
    expected = (
        2 * intensity_max_loss(fused, vis, ir)
        + 3 * consistency_loss(fused, vis, ir, 0.5)
        + 5 * gradient_max_loss(fused, vis, ir)
        + 7 * ssim_loss(fused, vis, ir)
        + 11 * color_loss(fused, vis)
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    assert sum(v.item() for v in parts.values()) == pytest.approx(total.item(), rel=1e-12)
    assert set(parts) == {"max", "consist", "grad", "ssim", "color"}
    assert parts["ssim"].item() == pytest.approx(7 * ssim_loss(fused, vis, ir).item(), rel=1e-12)
    # None and the module default both mean the IVF default weights
    assert fusion_loss(fused, vis, ir)[0].item() == pytest.approx(FusionLoss()(fused, vis, ir)[0].item())


def test_backward_gives_finite_gradients():
    fused = torch.rand(2, 3, 32, 32, requires_grad=True)
    vis, ir = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
    total, _ = FusionLoss()(fused, vis, ir)
    total.backward()
    assert fused.grad is not None and torch.isfinite(fused.grad).all() and fused.grad.abs().sum() > 0


def test_per_sample_event_weights_average():
    fused, vis, ir = _rand(2, 3, 20, 20, 10), _rand(2, 3, 20, 20, 11), _rand(2, 1, 20, 20, 12)
    low_light = {"max": 48, "consist": 20, "grad": 48, "ssim": 2, "color": 12, "ir_compose": 1}
    sensor = {"max": 24, "consist": 80, "grad": 96, "ssim": 2, "color": 12, "ir_compose": 2}
    events = [[low_light, sensor], [dict(IVF_DEFAULT_WEIGHTS)]]
    total, parts = fusion_loss(fused, vis, ir, events)

    def single(b: int, w: dict) -> torch.Tensor:
        return fusion_loss(fused[b : b + 1], vis[b : b + 1], ir[b : b + 1], w)[0]

    sample0 = (single(0, low_light) + single(0, sensor)) / 2
    sample1 = single(1, dict(IVF_DEFAULT_WEIGHTS))
    assert total.item() == pytest.approx(((sample0 + sample1) / 2).item(), rel=1e-12)
    assert sum(v.item() for v in parts.values()) == pytest.approx(total.item(), rel=1e-12)
    # one event list for both samples equals the batch-wide dict path
    same = fusion_loss(fused, vis, ir, [[sensor], [sensor]])[0]
    assert same.item() == pytest.approx(fusion_loss(fused, vis, ir, sensor)[0].item(), rel=1e-12)
    # a sample without events contributes 0 but still counts in the batch mean (DTPF)
    half = fusion_loss(fused, vis, ir, [[sensor], []])[0]
    assert half.item() == pytest.approx(single(0, sensor).item() / 2, rel=1e-12)


def test_weight_and_shape_errors():
    with pytest.raises(ConfigError, match="Did you mean 'ssim'"):
        check_weights({**IVF_DEFAULT_WEIGHTS, "sssim": 1})
    with pytest.raises(ConfigError, match="lack ir_compose"):
        check_weights({k: v for k, v in IVF_DEFAULT_WEIGHTS.items() if k != "ir_compose"})
    with pytest.raises(ConfigError, match=">= 0"):
        check_weights({**IVF_DEFAULT_WEIGHTS, "grad": -1})
    with pytest.raises(ConfigError, match="math.nan|finite"):
        check_weights({**IVF_DEFAULT_WEIGHTS, "grad": math.nan})
    f, v, i = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.rand(2, 1, 8, 8)
    with pytest.raises(ConfigError, match="2 samples"):
        fusion_loss(f, v, i, [[dict(IVF_DEFAULT_WEIGHTS)]])
    with pytest.raises(ShapeMismatchError, match="ir must be"):
        fusion_loss(f, v, torch.rand(2, 1, 8, 9))
