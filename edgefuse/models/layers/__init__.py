"""Building blocks of the DTPF networks (Restormer / X-Restormer layers, fusion, text Guide)."""

from __future__ import annotations

from edgefuse.models.layers.attention import ChannelAttention, OverlapWindowAttention
from edgefuse.models.layers.block import DualTransformerBlock
from edgefuse.models.layers.ffn import GatedFeedForward
from edgefuse.models.layers.fusion import AttentionFusion, SpatialChannelCrossFusion
from edgefuse.models.layers.guide import TextGuide
from edgefuse.models.layers.norm import LayerNorm2d
from edgefuse.models.layers.sampling import Downsample, OverlapPatchEmbed, Upsample

__all__ = [
    "AttentionFusion",
    "ChannelAttention",
    "Downsample",
    "DualTransformerBlock",
    "GatedFeedForward",
    "LayerNorm2d",
    "OverlapPatchEmbed",
    "OverlapWindowAttention",
    "SpatialChannelCrossFusion",
    "TextGuide",
    "Upsample",
]
