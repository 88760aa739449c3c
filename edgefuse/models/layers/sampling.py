"""Patch embedding and the pixel-(un)shuffle resampling layers of the Restormer U-Net."""

from __future__ import annotations

import torch
from torch import nn


class OverlapPatchEmbed(nn.Module):
    """3x3 convolution from image channels to the stem width (Restormer, Zamir et al. 2022).

    Args:
        in_channels: Image channels (3 for visible RGB, 1 for infrared).
        dim: Output width ``C``.
        bias: Whether the convolution has a bias (False in DTPF).
    """

    def __init__(self, in_channels: int, dim: int, bias: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` (N, in, H, W) to (N, C, H, W)."""
        return self.proj(x)


class Downsample(nn.Module):
    """Conv3x3 (C -> C/2) then PixelUnshuffle(2): (N, C, H, W) -> (N, 2C, H/2, W/2).

    Args:
        dim: Input width ``C`` (even).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim // 2, kernel_size=3, padding=1, bias=False),
            nn.PixelUnshuffle(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution and double the width of ``x``."""
        return self.body(x)


class Upsample(nn.Module):
    """Conv3x3 (C -> 2C) then PixelShuffle(2): (N, C, H, W) -> (N, C/2, 2H, 2W).

    Args:
        dim: Input width ``C`` (even).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim * 2, kernel_size=3, padding=1, bias=False),
            nn.PixelShuffle(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Double the resolution and halve the width of ``x``."""
        return self.body(x)
