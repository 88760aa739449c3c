"""The X-Restormer dual (channel + spatial attention) transformer block."""

from __future__ import annotations

import torch
from torch import nn

from edgefuse.models.layers.attention import ChannelAttention, OverlapWindowAttention
from edgefuse.models.layers.ffn import GatedFeedForward
from edgefuse.models.layers.norm import LayerNorm2d


class DualTransformerBlock(nn.Module):
    """X-Restormer block (Chen et al., ECCV 2024) as used by DTPF (arXiv 2504.07029).

    Four pre-norm residual sub-layers, channel attention first (DTPF code order):
    ``x += MDTA(LN(x)); x += GDFN(LN(x)); x += OCAB(LN(x)); x += GDFN(LN(x))``.

    Args:
        dim: Width ``C``.
        channel_heads: Heads of the channel (MDTA) attention.
        spatial_heads: Heads of the spatial (OCAB) attention.
        spatial_dim_head: Width of each OCAB head.
        window_size: OCAB query window.
        overlap_ratio: OCAB key-window enlargement.
        ffn_expansion: GDFN hidden expansion factor.
        bias: Whether the convolutions have biases.
        windows_first: OCAB path (see :class:`OverlapWindowAttention`).
    """

    def __init__(
        self,
        dim: int,
        channel_heads: int,
        spatial_heads: int,
        spatial_dim_head: int = 16,
        window_size: int = 8,
        overlap_ratio: float = 0.5,
        ffn_expansion: float = 2.66,
        bias: bool = False,
        windows_first: bool = True,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.channel_attn = ChannelAttention(dim, channel_heads, bias)
        self.norm2 = LayerNorm2d(dim)
        self.channel_ffn = GatedFeedForward(dim, ffn_expansion, bias)
        self.norm3 = LayerNorm2d(dim)
        self.spatial_attn = OverlapWindowAttention(
            dim, window_size, overlap_ratio, spatial_heads, spatial_dim_head, bias, windows_first
        )
        self.norm4 = LayerNorm2d(dim)
        self.spatial_ffn = GatedFeedForward(dim, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the four residual sub-layers to ``x`` (N, C, H, W)."""
        x = x + self.channel_attn(self.norm1(x))
        x = x + self.channel_ffn(self.norm2(x))
        x = x + self.spatial_attn(self.norm3(x))
        return x + self.spatial_ffn(self.norm4(x))
