"""Fusion networks (DTPF and the edge CNNs, teachers and students): their contract, registry and profiling."""

from __future__ import annotations

from edgefuse.models.contract import FusionModel
from edgefuse.models.dtpf import DTPF
from edgefuse.models.edge import EdgeFuseNet
from edgefuse.models.profile import count_flops, count_params
from edgefuse.models.registry import MODELS, create_model

__all__ = ["DTPF", "MODELS", "EdgeFuseNet", "FusionModel", "count_flops", "count_params", "create_model"]
