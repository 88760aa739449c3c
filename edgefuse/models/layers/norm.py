"""Per-pixel channel LayerNorm ("WithBias" LayerNorm of Restormer) for NCHW feature maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of every pixel, with a learnable scale and bias.

    Restormer (Zamir et al., CVPR 2022) calls this the "WithBias" LayerNorm; DTPF
    (arXiv 2504.07029, official code ``models/xrestormer.py``) uses it before every attention
    and feed-forward sub-layer. The normalisation is written as NCHW -> NHWC,
    ``F.layer_norm`` over the last dim, NHWC -> NCHW so that ONNX opset >= 17 export emits a
    single ``LayerNormalization`` node (TensorRT fuses it) instead of a chain of
    ReduceMean/Sub/Pow/Sqrt nodes.

    Args:
        channels: Number of channels ``C`` normalised per pixel.
        eps: Variance epsilon (biased variance, as in the reference).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (N, C, H, W) over C at each pixel."""
        y = x.permute(0, 2, 3, 1)
        y = F.layer_norm(y, (self.channels,), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"
