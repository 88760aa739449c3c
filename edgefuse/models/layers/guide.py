"""The FiLM text Guide that modulates teacher features with a sentence embedding."""

from __future__ import annotations

import torch
from torch import nn


class TextGuide(nn.Module):
    """DTPF text Guide ("FeatureWiseAffine", arXiv 2504.07029, official code): teacher only.

    ``[gamma, beta] = Linear(C -> 2C)(ReLU(Linear(text_dim -> C)(t)))`` (with biases), then
    ``out = gamma * x + beta`` per channel, broadcast over H and W. Note: no ``1 + gamma``
    (Text-IF uses ``(1 + gamma) * x + beta``; DTPF does not). The embedding is cast to the
    feature dtype, as in the reference. Only torch is needed here, so the student never pulls
    in any text-encoder dependency.

    Args:
        text_dim: Width of the sentence embedding (512 for CLIP ViT-B/32, 384 for MiniLM).
        dim: Width ``C`` of the modulated feature map.
    """

    def __init__(self, text_dim: int, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(text_dim, dim), nn.ReLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Modulate ``x`` (N, C, H, W) with ``text`` (N, text_dim)."""
        gamma, beta = self.mlp(text.to(x.dtype)).chunk(2, dim=1)
        return gamma[:, :, None, None] * x + beta[:, :, None, None]


class PriorGuide(nn.Module):
    """FiLM from a student's own small prior vector: ``[gamma, beta] = Linear(prior_dim -> 2C)(p)``, zero at the start.

    One linear layer instead of the text Guide's MLP: the prior is a few numbers (not a 384- or 512-wide
    sentence embedding), and the student's parameter budget is a tenth of the teacher's. Used residually
    (``x + gamma * x + beta``) like the teacher's guides, so the untrained guide is the identity.
    """

    def __init__(self, prior_dim: int, dim: int) -> None:
        super().__init__()
        self.film = nn.Linear(prior_dim, 2 * dim)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """Modulate ``x`` (N, C, H, W) with ``prior`` (N, prior_dim)."""
        gamma, beta = self.film(prior.to(x.dtype)).chunk(2, dim=1)
        return gamma[:, :, None, None] * x + beta[:, :, None, None]
