"""PyTorch -> ONNX export of fusion models: inputs ``vis``/``ir``, output ``fused``, static or dynamic H/W."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from edgefuse.errors import ConfigError, ExportError
from edgefuse.export._io import atomic_path
from edgefuse.config_types import DynamicSpec, Size
from edgefuse.models.contract import size_multiple_of, text_dim_of

logger = logging.getLogger(__name__)

INPUT_NAMES = ("vis", "ir")
OUTPUT_NAMES = ("fused",)
MIN_SIDE = 8  # the edge students work at 1/8 resolution; DTPF needs its 64-pixel multiple anyway


def size_rule(model: nn.Module) -> int:
    """The multiple that H and W must have at the graph input (DTPF: 64; edge models: 1)."""
    return size_multiple_of(model)


def check_exportable(model: nn.Module, sizes: Sequence[Size]) -> None:
    """Refuse teachers and sizes that break the model's size rule.

    Raises:
        ExportError: ``model`` is a text-guided teacher (``text_dim`` set).
        ConfigError: a height or width is not a multiple of the model's ``size_multiple``
            or is smaller than the smallest side the graph supports.
    """
    text_dim = text_dim_of(model)
    if text_dim is not None:
        raise ExportError(
            f"{type(model).__name__} with text_dim={text_dim} is a text-guided teacher: teachers are not deployed "
            "(they need a text encoder at run time). Export its distilled student instead, e.g. "
            "--model edge_nano --weights runs/edge_nano_kd/model.safetensors"
        )
    multiple = size_rule(model)
    floor = max(multiple, MIN_SIDE)
    for h, w in sizes:
        bad = [f"{side}={v}" for side, v in (("height", h), ("width", w)) if v % multiple or v < floor]
        if bad:
            rule = f"multiples of {multiple}" if multiple > 1 else "whole pixels"
            hint_h, hint_w = (max(floor, -(-h // multiple) * multiple), max(floor, -(-w // multiple) * multiple))
            raise ConfigError(
                f"size {h}x{w} breaks the size rule of {type(model).__name__}: height and width must be "
                f"{rule} and at least {floor} ({', '.join(bad)}); the runtime pads frames up to the engine "
                f"size, so export e.g. {hint_h}x{hint_w}"
            )


def _dynamic_axes(dynamic: DynamicSpec | None) -> dict[str, dict[int, str]] | None:
    if dynamic is None:
        return None
    return {name: {2: "height", 3: "width"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}


def fix_output_shape(model: "onnx.ModelProto") -> None:  # noqa: F821
    """Give ``fused`` the batch and H/W of ``vis`` (the tracer leaves names like ``Clipfused_dim_0``).

    TensorRT and ``edgefuse inspect`` then show ``fused`` as ``[1, 3, H, W]`` (static) or
    ``[1, 3, height, width]`` (dynamic), exactly like the inputs.
    """
    vis = next(i for i in model.graph.input if i.name == "vis")
    out = next(o for o in model.graph.output if o.name == "fused")
    src_dims, dst_dims = vis.type.tensor_type.shape.dim, out.type.tensor_type.shape.dim
    if len(src_dims) != 4 or len(dst_dims) != 4:
        return
    for k in (0, 2, 3):
        dst_dims[k].Clear()
        if src_dims[k].HasField("dim_value"):
            dst_dims[k].dim_value = src_dims[k].dim_value
        else:
            dst_dims[k].dim_param = src_dims[k].dim_param
    dst_dims[1].Clear()
    dst_dims[1].dim_value = 3


def name_nodes(model: "onnx.ModelProto") -> None:  # noqa: F821 - onnx is imported lazily
    """Give every unnamed node a unique name (INT8 exclusion lists and reports need them)."""
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def constants_to_initializers(model: "onnx.ModelProto") -> int:  # noqa: F821
    """Turn tensor-valued ``Constant`` nodes into initializers; return how many.

    Why: the INT8 quantizer treats a Constant-node weight (e.g. a registered buffer used as
    a conv kernel) as an activation (per-tensor Q/DQ instead of per-channel), and
    onnxconverter-common casts a Constant node's output to FP16 even when its only consumer
    stays FP32, so a constant such as 1e5 becomes inf; initializers have neither problem.
    """
    from onnx import numpy_helper

    keep = []
    moved = 0
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value"), None) if node.op_type == "Constant" else None
        if value is None or len(node.attribute) != 1:
            keep.append(node)
            continue
        model.graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(value), node.output[0]))
        moved += 1
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return moved


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    height: int,
    width: int,
    dynamic: DynamicSpec | None = None,
    opset: int = 17,
) -> Path:
    """Export a fusion model taking ``vis`` (N,3,H,W) and ``ir`` (N,1,H,W) to ONNX.

    Uses the TorchScript-based exporter (``dynamo=False``), names every node, runs the ONNX
    checker (with shape inference) and writes through a temporary file, so a failure leaves
    nothing under ``path``.

    Args:
        model: An edgefuse student (teachers are refused).
        path: Output ``.onnx`` file.
        height: Traced height (ignored when ``dynamic`` is given: its opt size is traced).
        width: Traced width.
        dynamic: ``((h_min, w_min), (h_opt, w_opt), (h_max, w_max))`` to make H and W
            dynamic; the batch stays 1.
        opset: ONNX opset, at least 17.

    Raises:
        ExportError: a teacher, or the exporter or checker failed.
        ConfigError: sizes against the model's size rule, or an opset below 17.
    """
    import onnx

    if opset < 17:
        raise ConfigError(f"opset {opset} is too old: use >= 17 (one LayerNormalization node per LayerNorm)")
    sizes = list(dynamic) if dynamic is not None else [(height, width)]
    check_exportable(model, sizes)
    h, w = dynamic[1] if dynamic is not None else (height, width)
    model = model.eval().float().cpu()
    gen = torch.Generator().manual_seed(0)
    vis, ir = torch.rand(1, 3, h, w, generator=gen), torch.rand(1, 1, h, w, generator=gen)
    out = Path(path)
    with atomic_path(out) as tmp:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # tracer warnings about shape checks in forward()
                torch.onnx.export(
                    model, (vis, ir), str(tmp), input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                    opset_version=opset, dynamic_axes=_dynamic_axes(dynamic), do_constant_folding=True,
                    dynamo=False,
                )
        except Exception as e:  # the exporter raises many types; all mean the same to the user
            raise ExportError(f"torch.onnx.export of {type(model).__name__} at {h}x{w} failed: {e}") from e
        graph = onnx.load(str(tmp))
        constants_to_initializers(graph)
        name_nodes(graph)
        fix_output_shape(graph)
        try:
            onnx.checker.check_model(graph, full_check=True)
        except onnx.checker.ValidationError as e:
            raise ExportError(f"the exported graph fails the ONNX checker: {e}") from e
        onnx.save(graph, str(tmp))
    logger.debug("exported %s (%s, opset %d)", out, "dynamic H/W" if dynamic else f"{h}x{w}", opset)
    return out
