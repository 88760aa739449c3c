"""Gated depth-wise convolutional feed-forward network (Restormer GDFN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GatedFeedForward(nn.Module):
    """Restormer GDFN (Zamir et al., CVPR 2022): gated GELU with a 3x3 depth-wise conv.

    Conv1x1 (C -> 2h) -> DWConv3x3 (2h) -> split (x1, x2) -> GELU(x1) * x2 -> Conv1x1 (h -> C),
    with ``h = int(C * expansion)`` (DTPF teacher 2.66 -> 127/255/510/1021; student 2.0).

    Args:
        dim: Width ``C``.
        expansion: Hidden expansion factor ``gamma``.
        bias: Whether the convolutions have biases (False in DTPF).
    """

    def __init__(self, dim: int, expansion: float, bias: bool = False) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.hidden = hidden
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(
            hidden * 2, hidden * 2, kernel_size=3, padding=1, groups=hidden * 2, bias=bias
        )
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated feed-forward network to ``x`` (N, C, H, W).

        The gate and value halves run as two conv chains on weight halves instead of one
        chain and a channel split: same values (the 1x1 and depth-wise convs act per output
        channel), no split copy, and ONNX Runtime keeps each chain in its blocked conv
        layout (GDFN alone: 2.2x faster in ONNX Runtime at C = 64, 64x80; torch 1.3x at C <= 32).
        """
        return self.project_out(F.gelu(self._half(x, 0)) * self._half(x, 1))

    def _half(self, x: torch.Tensor, i: int) -> torch.Tensor:
        h = self.hidden
        part = slice(i * h, (i + 1) * h)
        bias_in = self.project_in.bias[part] if self.project_in.bias is not None else None
        bias_dw = self.dwconv.bias[part] if self.dwconv.bias is not None else None
        y = F.conv2d(x, self.project_in.weight[part], bias_in)
        return F.conv2d(y, self.dwconv.weight[part], bias_dw, padding=1, groups=h)
