"""DTPF fusion networks (teacher and student), their registry and parameter/FLOP profiling."""

from __future__ import annotations

from edgefuse.models.dtpf import DTPF
from edgefuse.models.profile import count_flops, count_params
from edgefuse.models.registry import MODELS, create_model

__all__ = ["DTPF", "MODELS", "count_flops", "count_params", "create_model"]
