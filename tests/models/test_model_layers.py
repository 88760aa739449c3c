"""Building blocks against naive reference formulas (nn.Unfold, explicit relative indices)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.models.layers import (
    ChannelAttention,
    GatedFeedForward,
    LayerNorm2d,
    OverlapWindowAttention,
    TextGuide,
)


def _ocab_reference(m: OverlapWindowAttention, x: torch.Tensor) -> torch.Tensor:
    """OCAB written the slow, obvious way: nn.Unfold key windows, relative offsets by index."""
    n, _, h, w = x.shape
    win, kw, heads, d = m.window_size, m.key_window, m.num_heads, m.dim_head
    nh, nw = h // win, w // win
    q, k, v = m.qkv(x).chunk(3, dim=1)
    unfold = nn.Unfold(kernel_size=kw, stride=win, padding=(kw - win) // 2)

    def keys(t: torch.Tensor) -> torch.Tensor:  # (n*nwin, heads, kw*kw, d)
        t = unfold(t).reshape(n, heads, d, kw * kw, nh * nw)
        return t.permute(0, 4, 1, 3, 2).reshape(n * nh * nw, heads, kw * kw, d)

    q = q.reshape(n, heads, d, nh, win, nw, win).permute(0, 3, 5, 1, 4, 6, 2)
    q = q.reshape(n * nh * nw, heads, win, win, d) * m.scale
    pos, off = torch.arange(win), torch.arange(kw)
    rel = off[None, :] - pos[:, None] + kw - 1  # (query coord, key offset) -> table row
    rows = torch.einsum("bhxyd,xid->bhxyi", q, m.rel_height[rel])
    cols = torch.einsum("bhxyd,yjd->bhxyj", q, m.rel_width[rel])
    bias = (rows[..., :, None] + cols[..., None, :]).reshape(-1, heads, win * win, kw * kw)
    q = q.reshape(-1, heads, win * win, d)
    attn = (q @ keys(k).transpose(-2, -1) + bias).softmax(-1)
    out = (attn @ keys(v)).reshape(n, nh, nw, heads, win, win, d)
    out = out.permute(0, 3, 6, 1, 4, 2, 5).reshape(n, heads * d, h, w)
    return m.project_out(out)


def test_layernorm_matches_per_pixel_formula() -> None:
    torch.manual_seed(0)
    ln = LayerNorm2d(6)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    x = torch.randn(2, 6, 5, 7)
    mu = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=False)
    expected = (x - mu) / torch.sqrt(var + 1e-5) * ln.weight[:, None, None] + ln.bias[:, None, None]
    torch.testing.assert_close(ln(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [(16, 24), (8, 8)])
def test_ocab_matches_unfold_reference(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    m = OverlapWindowAttention(12, window_size=8, overlap_ratio=0.5, num_heads=3, dim_head=4)
    assert m.key_window == 12
    x = torch.randn(2, 12, *size)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _ocab_reference(m, x), atol=1e-5, rtol=1e-5)


def test_ocab_parameters_and_errors() -> None:
    m = OverlapWindowAttention(48, num_heads=2, dim_head=16)
    assert m.rel_height.shape == m.rel_width.shape == (23, 16)
    assert m.qkv.out_channels == 96 and m.qkv.bias is None
    assert "index_height" not in m.state_dict()
    with pytest.raises(ShapeMismatchError, match="multiple of the window"):
        m(torch.zeros(1, 48, 12, 16))
    with pytest.raises(ConfigError):
        OverlapWindowAttention(48, window_size=8, overlap_ratio=0.375)


def test_channel_attention_matches_formula() -> None:
    torch.manual_seed(0)
    m = ChannelAttention(8, num_heads=2)
    nn.init.uniform_(m.temperature, 0.5, 2.0)
    x = torch.randn(1, 8, 6, 5)
    q, k, v = m.qkv_dwconv(m.qkv(x)).reshape(1, 3, 2, 4, 30).unbind(1)
    attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    out = (attn * m.temperature).softmax(-1) @ v
    torch.testing.assert_close(m(x), m.project_out(out.reshape(1, 8, 6, 5)))
    assert m.temperature.shape == (2, 1, 1)
    with pytest.raises(ConfigError):
        ChannelAttention(6, num_heads=4)


@pytest.mark.parametrize(("dim", "hidden"), [(48, 127), (96, 255), (192, 510), (384, 1021)])
def test_gdfn_hidden_width(dim: int, hidden: int) -> None:
    assert GatedFeedForward(dim, 2.66).hidden == hidden


def test_text_guide_is_plain_film() -> None:
    guide = TextGuide(text_dim=5, dim=3)
    last = guide.mlp[-1]
    nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor([2.0, 2.0, 2.0, 1.0, 1.0, 1.0]))
    x = torch.randn(2, 3, 4, 4)
    out = guide(x, torch.randn(2, 5, dtype=torch.float64))
    torch.testing.assert_close(out, 2.0 * x + 1.0)  # gamma * x + beta, not (1 + gamma) * x


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("window", "ratio"), [(8, 0.5), (4, 0.5), (8, 0.25), (6, 1.0)])
def test_ocab_export_path_matches_eager(
    monkeypatch: pytest.MonkeyPatch, window: int, ratio: float, bias: bool
) -> None:
    """The export formulations against the eager baddbmm path.

    Without biases (DTPF): relative logits folded into one MatMul of augmented queries and
    keys. With biases: pad/slice skew instead of a Gather, MatMul + Add instead of baddbmm.
    """
    torch.manual_seed(0)
    m = OverlapWindowAttention(8, window_size=window, overlap_ratio=ratio, num_heads=2, dim_head=4, bias=bias)
    x = torch.randn(2, 8, 2 * window, 3 * window)
    with torch.no_grad():
        eager = m(x)  # baddbmm path
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        exported = m(x)  # MatMul + Add path used while exporting
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)


def test_ocab_augmented_path_is_the_bias_free_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bias-free export runs the augmented form, and it does not depend on the head layout."""
    torch.manual_seed(3)
    m = OverlapWindowAttention(6, window_size=4, overlap_ratio=0.5, num_heads=3, dim_head=5)
    calls: list[int] = []
    augmented = m._attend_augmented
    monkeypatch.setattr(m, "_attend_augmented", lambda x: calls.append(1) or augmented(x))
    x = torch.randn(1, 6, 8, 12)
    with torch.no_grad():
        eager = m(x)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        exported = m(x)
    assert calls == [1]
    torch.testing.assert_close(exported, _ocab_reference(m, x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_mdta_export_logits_match_eager(monkeypatch: pytest.MonkeyPatch, bias: bool) -> None:
    """Norms divided out of q k^T (export) == F.normalize of q and k (eager), zero rows included."""
    torch.manual_seed(0)
    m = ChannelAttention(8, num_heads=2, bias=bias)
    with torch.no_grad():
        m.temperature.copy_(torch.tensor([0.5, 3.0]).reshape(2, 1, 1))
    x = torch.randn(2, 8, 6, 10)
    x[1] = 0.0  # all-zero q and k rows: F.normalize's eps guard must hold in both forms
    with torch.no_grad():
        eager = m(x)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        exported = m(x)
    assert torch.isfinite(exported).all()
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_ocab_both_paths_match_the_reference(bias: bool) -> None:
    """Without biases the windows are projected after cutting; with biases the maps are cut after projecting."""
    torch.manual_seed(1)
    m = OverlapWindowAttention(6, window_size=4, overlap_ratio=0.5, num_heads=2, dim_head=3, bias=bias)
    x = torch.randn(2, 6, 8, 12)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _ocab_reference(m, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_gdfn_halves_match_the_split_chain(bias: bool) -> None:
    """Two conv chains on weight halves == one chain then a channel split (the Restormer formula)."""
    torch.manual_seed(0)
    g = GatedFeedForward(8, 2.66, bias)
    x = torch.randn(2, 8, 9, 7)
    with torch.no_grad():
        x1, x2 = g.dwconv(g.project_in(x)).chunk(2, dim=1)
        torch.testing.assert_close(g(x), g.project_out(F.gelu(x1) * x2), atol=1e-6, rtol=1e-5)
