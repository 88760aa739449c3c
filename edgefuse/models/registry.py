"""The model registry: one factory per DTPF variant and ``create_model``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from edgefuse.errors import ConfigError, did_you_mean
from edgefuse.models.dtpf import DTPF
from edgefuse.registry import Registry

MODELS: Registry[Callable[..., DTPF]] = Registry("model")

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


def create_model(name: str, **overrides: Any) -> DTPF:
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
    known = [p for p in inspect.signature(DTPF.__init__).parameters if p != "self"]
    for key in kwargs:
        if key not in known:
            raise ConfigError(
                f"model {name!r} has no option {key!r}.{did_you_mean(key, known)}"
                f" Valid options: {', '.join(known)}."
            )
    return factory(**kwargs)
