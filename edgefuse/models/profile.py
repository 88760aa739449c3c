"""Parameter and FLOP counts of the fusion networks."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edgefuse.models.layers.attention import projections_before_windows
from edgefuse.models.contract import text_dim_of


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (buffers excluded).

    Args:
        model: Any module.
        trainable_only: Count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_flops(model: nn.Module, height: int, width: int, batch: int = 1) -> float:
    """GFLOPs of one forward pass of a fusion model on a ``height`` x ``width`` pair.

    Runs a real CPU forward on zero inputs (``vis`` N x 3, ``ir`` N x 1, plus zero text
    embeddings when the model has a ``text_dim``) under ``torch.utils.flop_counter``, which
    counts matmul/conv/einsum FLOPs as 2 x MACs and ignores norms, softmax and activations.
    OCAB layers are counted in their textbook form (the architecture's FLOPs, as published;
    the faster windows-first path does 2.25x the k/v projection MACs, about +9 % for DTPF).
    For DTPF the count is that of the padded size the model computes on (480 x 640 -> 512 x 640).

    Args:
        model: A fusion network taking ``(vis, ir[, text])`` (e.g. :class:`DTPF`).
        height: Image height.
        width: Image width.
        batch: Batch size.

    Returns:
        Giga floating-point operations (1e9 FLOPs).
    """
    param = next(model.parameters(), None)
    kwargs = dict(dtype=param.dtype, device=param.device) if param is not None else {}
    vis = torch.zeros(batch, getattr(model, "vis_channels", 3), height, width, **kwargs)
    ir = torch.zeros(batch, getattr(model, "ir_channels", 1), height, width, **kwargs)
    args: tuple[torch.Tensor, ...] = (vis, ir)
    text_dim = text_dim_of(model)
    if text_dim is not None:
        args += (torch.zeros(batch, text_dim, **kwargs),)
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, projections_before_windows(model):
            model(*args)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e9


def model_summary(name: str, height: int = 480, width: int = 640, flops: bool = True) -> dict:
    """Params, GFLOPs at ``height`` x ``width`` and text width of a registered model.

    The model is built on PyTorch's ``meta`` device, so no weights are allocated and the
    FLOP count of even the 40 M-parameter teacher at 480x640 takes seconds, not minutes.
    """
    from edgefuse.models.registry import create_model

    with torch.device("meta"):
        model = create_model(name)
    gflops = count_flops(model, height, width) if flops else None
    return {"name": name, "params": count_params(model), "gflops": gflops,
            "text_dim": text_dim_of(model)}
