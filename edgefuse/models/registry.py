"""The model registry: one factory per DTPF variant and ``create_model``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from edgefuse.errors import ConfigError, did_you_mean
from edgefuse.models.dtpf import DTPF
from edgefuse.models.edge import EdgeFuseNet
from edgefuse.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

# The class each factory builds, for checking override names.
_CLASSES: dict[str, type[nn.Module]] = {"dtpf_teacher": DTPF, "dtpf_student": DTPF}

_SHARED = dict(
    num_blocks=(2, 2, 2, 2),
    channel_heads=(1, 2, 4, 8),
    spatial_heads=(2, 2, 3, 4),
    window_size=8,
    overlap_ratio=0.5,
    spatial_dim_head=16,
    bias=False,
)


@MODELS.register("dtpf_teacher")
def dtpf_teacher(**overrides: Any) -> DTPF:
    """DTPF teacher (config ``text_xrestormer_params``): C=48, 4 refinement blocks, GDFN 2.66.

    ``text_dim`` defaults to 512 (CLIP ViT-B/32 text embeddings, 40,289,814 parameters
    excluding the text encoder); pass e.g. ``text_dim=384`` for a MiniLM encoder.
    """
    kwargs: dict[str, Any] = dict(
        _SHARED, dim=48, num_refinement_blocks=4, ffn_expansion_factor=2.66, text_dim=512
    )
    kwargs.update(overrides)
    return DTPF(**kwargs)


@MODELS.register("dtpf_student")
def dtpf_student(**overrides: Any) -> DTPF:
    """DTPF student (config ``distill_params``): C=16, 2 refinement blocks, GDFN 2.0, no text.

    4,371,772 parameters; inference needs only the image pair.
    """
    kwargs: dict[str, Any] = dict(
        _SHARED, dim=16, num_refinement_blocks=2, ffn_expansion_factor=2.0, text_dim=None
    )
    kwargs.update(overrides)
    return DTPF(**kwargs)


_NANO: dict[str, Any] = dict(widths=(16, 32, 48), depths=(1, 2, 2), residual_channels=8, residual_kernel=1)


@MODELS.register("edge_nano")
def edge_nano(**overrides: Any) -> EdgeFuseNet:
    """Edge student for live video: widths 16/32/48 at 1/2-1/8 resolution, no text."""
    return EdgeFuseNet(**{**_NANO, **overrides})


@MODELS.register("edge_nano_rx")
def edge_nano_rx(**overrides: Any) -> EdgeFuseNet:
    """``edge_nano`` with a per-image IR contrast gain (``ir_gain``): same weights plus 49 parameters."""
    return EdgeFuseNet(**{**_NANO, "ir_gain": True, **overrides})


@MODELS.register("edge_nano_agc")
def edge_nano_agc(**overrides: Any) -> EdgeFuseNet:
    """``edge_nano`` with the IR black-level clamp (``ir_black_level``): the same weights, no new parameters."""
    return EdgeFuseNet(**{**_NANO, "ir_black_level": True, **overrides})


@MODELS.register("edge_nano_sp")
def edge_nano_sp(**overrides: Any) -> EdgeFuseNet:
    """``edge_nano`` with its own degradation prior (``prior_dim`` 4): statistics of the pair drive FiLM layers.

    1,336 parameters more than ``edge_nano``: 20,308 in all, under a tenth of ``edge_teacher``'s 203,652.
    """
    return EdgeFuseNet(**{**_NANO, "prior_dim": 4, **overrides})


@MODELS.register("edge_small")
def edge_small(**overrides: Any) -> EdgeFuseNet:
    """Larger edge student: widths 24/48/96, deeper context, no text."""
    kwargs: dict[str, Any] = dict(widths=(24, 48, 96), depths=(2, 3, 3), residual_channels=12, residual_kernel=1)
    kwargs.update(overrides)
    return EdgeFuseNet(**kwargs)


@MODELS.register("edge_teacher")
def edge_teacher(**overrides: Any) -> EdgeFuseNet:
    """Text-guided CNN teacher trainable on CPUs: widths 32/64/96 with FiLM guides.

    The paper-size ``dtpf_teacher`` needs a GPU to train; this one distils into the edge
    students with the same framework (``text_dim`` follows the text encoder, 384 for MiniLM).
    """
    kwargs: dict[str, Any] = dict(widths=(32, 64, 96), depths=(2, 3, 4), residual_channels=16, text_dim=384)
    kwargs.update(overrides)
    return EdgeFuseNet(**kwargs)


_CLASSES.update(edge_nano=EdgeFuseNet, edge_nano_rx=EdgeFuseNet, edge_nano_agc=EdgeFuseNet, edge_nano_sp=EdgeFuseNet, edge_small=EdgeFuseNet,
                edge_teacher=EdgeFuseNet)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build the registered model ``name``; overrides that are ``None`` are dropped.

    Args:
        name: A name from ``MODELS.names()`` (e.g. ``dtpf_student``).
        **overrides: :class:`DTPF` constructor arguments replacing the variant's defaults.

    Raises:
        UnknownNameError: ``name`` is not registered.
        ConfigError: An override that :class:`DTPF` does not accept, or a bad value.
    """
    factory = MODELS.get(name)
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    cls = _CLASSES[MODELS.canonical(name)]
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in kwargs:
        if key not in known:
            raise ConfigError(
                f"model {name!r} has no option {key!r}.{did_you_mean(key, known)}"
                f" Valid options: {', '.join(known)}."
            )
    return factory(**kwargs)
