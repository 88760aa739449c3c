"""DTPF's modality fusion: attention fusion (Phi) and the spatial-channel cross-fusion module."""

from __future__ import annotations

import torch
from torch import nn

from edgefuse.models.layers.attention import ChannelAttention, OverlapWindowAttention


class AttentionFusion(nn.Module):
    """DTPF fusion block Phi ("AttentionFusion_Embed", arXiv 2504.07029, official code).

    ``X = [a; b]`` (2C); ``Y = MDTA(X) + OCAB(X)``; ``out = Conv3x3(2C -> C, bias=True)(Y)``.
    No normalisation and no residual, as in the reference.

    Args:
        dim: Width ``C`` of each input and of the output.
        channel_heads: MDTA heads on the 2C concatenation (8 in DTPF).
        spatial_heads: OCAB heads (4 in DTPF).
        spatial_dim_head: OCAB head width (32 in DTPF, so the inner width is 128 at every level).
        window_size: OCAB query window.
        overlap_ratio: OCAB key-window enlargement.
        bias: Bias of the attention convolutions (the output conv always has one).
        windows_first: OCAB path (see :class:`OverlapWindowAttention`).
    """

    def __init__(
        self,
        dim: int,
        channel_heads: int = 8,
        spatial_heads: int = 4,
        spatial_dim_head: int = 32,
        window_size: int = 8,
        overlap_ratio: float = 0.5,
        bias: bool = False,
        windows_first: bool = True,
    ) -> None:
        super().__init__()
        self.channel_attn = ChannelAttention(2 * dim, channel_heads, bias)
        self.spatial_attn = OverlapWindowAttention(
            2 * dim, window_size, overlap_ratio, spatial_heads, spatial_dim_head, bias, windows_first
        )
        self.project = nn.Conv2d(2 * dim, dim, kernel_size=3, padding=1, bias=True)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Fuse ``a`` and ``b`` (N, C, H, W each) into (N, C, H, W)."""
        x = torch.cat([a, b], dim=1)
        return self.project(self.channel_attn(x) + self.spatial_attn(x))


class SpatialChannelCrossFusion(nn.Module):
    """DTPF SCFM ("Cross_attentionSSA", arXiv 2504.07029, official code), bottleneck only.

    ``S_a = OCAB_a(a)``, ``S_b = OCAB_b(b)``, ``T_a = MDTA_a(a)``, ``T_b = MDTA_b(b)``;
    ``a' = Conv1x1([S_a; T_b])``, ``b' = Conv1x1([S_b; T_a])`` (2C -> C, no bias): the spatial
    attention of one modality is crossed with the channel attention of the other. No
    normalisation and no residual.

    Args:
        dim: Width ``C`` of each input and output.
        channel_heads: MDTA heads (8 in DTPF).
        spatial_heads: OCAB heads (the last level's spatial heads, 4 in DTPF).
        spatial_dim_head: OCAB head width (16 in DTPF).
        window_size: OCAB query window.
        overlap_ratio: OCAB key-window enlargement.
        bias: Whether the convolutions have biases.
        windows_first: OCAB path (see :class:`OverlapWindowAttention`).
    """

    def __init__(
        self,
        dim: int,
        channel_heads: int = 8,
        spatial_heads: int = 4,
        spatial_dim_head: int = 16,
        window_size: int = 8,
        overlap_ratio: float = 0.5,
        bias: bool = False,
        windows_first: bool = True,
    ) -> None:
        super().__init__()
        spatial = (window_size, overlap_ratio, spatial_heads, spatial_dim_head, bias, windows_first)
        self.spatial_a = OverlapWindowAttention(dim, *spatial)
        self.spatial_b = OverlapWindowAttention(dim, *spatial)
        self.channel_a = ChannelAttention(dim, channel_heads, bias)
        self.channel_b = ChannelAttention(dim, channel_heads, bias)
        self.project_a = nn.Conv2d(2 * dim, dim, kernel_size=1, bias=bias)
        self.project_b = nn.Conv2d(2 * dim, dim, kernel_size=1, bias=bias)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-fuse the bottlenecks ``a`` and ``b`` (N, C, H, W each)."""
        a_out = self.project_a(torch.cat([self.spatial_a(a), self.channel_b(b)], dim=1))
        b_out = self.project_b(torch.cat([self.spatial_b(b), self.channel_a(a)], dim=1))
        return a_out, b_out
