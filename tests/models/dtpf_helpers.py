"""Helpers shared by the model tests: a tiny DTPF and a random image pair."""

from __future__ import annotations

import torch

from edgefuse.models import DTPF


def tiny(**overrides: object) -> DTPF:
    """A very small DTPF (width 8, one block per level, narrow heads) for fast behaviour tests."""
    torch.manual_seed(0)
    kwargs: dict = dict(
        dim=8,
        num_blocks=(1, 1, 1, 1),
        num_refinement_blocks=1,
        spatial_dim_head=4,
        ffn_expansion_factor=1.0,
        fusion_spatial_heads=2,
        fusion_dim_head=4,
    )
    kwargs.update(overrides)
    return DTPF(**kwargs).eval()


def pair(height: int, width: int, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A random visible/infrared pair in [0, 1]."""
    gen = torch.Generator().manual_seed(1)
    vis = torch.rand(batch, 3, height, width, generator=gen)
    ir = torch.rand(batch, 1, height, width, generator=gen)
    return vis, ir
