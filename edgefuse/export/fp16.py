"""FP16 ONNX with FP32 I/O, keeping numerically fragile ops (and measured outliers) in FP32.

Kept in FP32 and why (TensorRT's strongly typed build runs exactly what the graph says):

* ``LayerNormalization``, ``GroupNormalization``, ``InstanceNormalization``: the variance is a
  mean of squares; activations of a few hundred already overflow FP16 (max 65504) when
  squared, the known cause of NaN / black frames in Restormer-like nets (TensorRT issues
  2564, 2781, 4493).
* ``Softmax``, ``LogSoftmax``, ``Exp``, ``Log``: exp overflows FP16 above 11.1, and the sum over a
  long attention row loses the small terms.
* ``ReduceMean``, ``ReduceSum``, ``ReduceSumSquare``, ``ReduceL1``, ``ReduceL2``,
  ``ReduceLogSumExp``, ``ReduceProd``: a reduction over H x W (307,200 terms at 480x640) leaves
  FP16's range and its 11-bit mantissa; global pooling and norms use them.
* ``Pow``, ``Sqrt``, ``Reciprocal``: the pieces of hand-written norms (squares overflow, small
  values underflow, 1/x of them overflows).
* ``Div`` nodes whose divisor comes from a reduction/norm (e.g. ``F.normalize`` in channel
  attention): found by walking the graph, not by op type, so ordinary divisions stay FP16.
* Every node that produces or consumes a tensor whose FP32 magnitude reached ``max_abs``
  (16384 = FP16 max / 4 by default) on the calibration/sample frames: the activation-range
  analysis.
* onnxconverter-common's own block list (ops without FP16 kernels, index/ML ops), except
  ``Resize``/``Upsample``, which ONNX Runtime and TensorRT run in FP16 and which only
  interpolate values already in range.

``Sigmoid`` and the output ``Clip`` stay FP16: both are bounded to [0, 1], where FP16 keeps a
relative error below 5e-4, far under one 8-bit grey level.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.errors import BackendUnavailableError, ExportError
from edgefuse.export._io import atomic_path
from edgefuse.export._ort import Feeds, collect, float_tensors
from edgefuse.export.onnx import constants_to_initializers

logger = logging.getLogger(__name__)

KEEP_FP32_OPS: dict[str, str] = {
    "LayerNormalization": "variance of activations overflows FP16",
    "GroupNormalization": "variance of activations overflows FP16",
    "InstanceNormalization": "variance of activations overflows FP16",
    "Softmax": "exp overflows above 11.1; long row sums lose small terms",
    "LogSoftmax": "exp overflows above 11.1",
    "Exp": "overflows above 11.1",
    "Log": "small inputs underflow",
    "ReduceMean": "sums over H*W leave FP16 range/precision",
    "ReduceSum": "sums over H*W leave FP16 range/precision",
    "ReduceSumSquare": "squares overflow",
    "ReduceL1": "sums over H*W leave FP16 range/precision",
    "ReduceL2": "squares overflow",
    "ReduceLogSumExp": "exp overflows",
    "ReduceProd": "products overflow",
    "Pow": "squares in hand-written norms overflow",
    "Sqrt": "part of norms; inputs are sums of squares",
    "Reciprocal": "1/x of small values overflows",
}
_FP16_SAFE_FROM_DEFAULT = ("Resize", "Upsample")
# ops between a reduction and the Div that uses it (eps clamps, broadcasts, casts)
_PASS_THROUGH = {"Clip", "Max", "Add", "Expand", "Unsqueeze", "Reshape", "Cast", "Identity", "Mul", "Sqrt", "Pow"}
_NORM_SOURCES = {"ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "Sqrt", "Pow", "LpNormalization"}


@dataclass
class Fp16Result:
    """What the FP16 pass kept in FP32 and why."""

    path: Path
    kept_ops: list[str]
    kept_nodes: dict[str, str] = field(default_factory=dict)
    max_abs: dict[str, float] = field(default_factory=dict)  # by tensor


def norm_division_nodes(model: "onnx.ModelProto", depth: int = 4) -> list[str]:  # noqa: F821
    """Div nodes whose divisor is computed from a reduction or square root within ``depth`` hops."""
    producer = {out: node for node in model.graph.node for out in node.output}
    found = []
    for node in model.graph.node:
        if node.op_type != "Div" or len(node.input) < 2:
            continue
        frontier, hops = [node.input[1]], 0
        while frontier and hops < depth:
            nxt = []
            for tensor in frontier:
                src = producer.get(tensor)
                if src is None:
                    continue
                if src.op_type in _NORM_SOURCES:
                    found.append(node.name)
                    nxt = []
                    break
                if src.op_type in _PASS_THROUGH:
                    nxt.extend(src.input)
            else:
                frontier, hops = nxt, hops + 1
                continue
            break
    return found


# Ops that only move, select or bound values: their output peak follows from their inputs'
# peaks, so the range analysis does not run them as outputs (a DTPF graph is 60% such nodes).
_MOVERS = {"Reshape", "Transpose", "Slice", "Concat", "Pad", "Expand", "Gather", "Flatten", "Squeeze",
           "Unsqueeze", "Identity", "DepthToSpace", "SpaceToDepth", "Split", "Resize", "MaxPool", "Cast"}
_BOUNDED = {"Sigmoid": 1.0, "Tanh": 1.0, "Softmax": 1.0, "Erf": 1.0}


def activation_max_abs(
    model: "onnx.ModelProto", feeds: Iterable[Feeds], threads: int = 0  # noqa: F821
) -> dict[str, float]:
    """Largest |value| of every float tensor produced by a node over ``feeds``, by tensor name.

    Tensors of value-moving ops (reshape, slice, concat, ...) and bounded activations are not
    measured but derived, which keeps the analysis to one output per arithmetic node.
    """
    from onnx import numpy_helper

    tensors = float_tensors(model)
    producer = {out: node for node in model.graph.node for out in node.output}
    measured = [t for t, name in tensors.items() if producer[t].op_type not in _MOVERS | set(_BOUNDED)]
    peak: dict[str, float] = {}

    def update(name: str, value: np.ndarray, _i: int) -> None:
        finite = bool(np.isfinite(value).all())
        m = float(np.abs(value).max()) if finite and value.size else (0.0 if finite else float("inf"))
        peak[name] = max(peak.get(name, 0.0), m)

    collect(model, measured, feeds, update, threads=threads)
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype.kind == "f" and arr.size:
            peak[init.name] = float(np.abs(arr).max())
    for inp in model.graph.input:
        peak.setdefault(inp.name, 1.0)  # images in [0, 1]
    for node in model.graph.node:  # graph order: inputs' peaks are known
        for out in node.output:
            if out in tensors and out not in peak:
                if node.op_type in _BOUNDED:
                    peak[out] = _BOUNDED[node.op_type]
                else:  # movers: the data input (all inputs of a Concat)
                    sources = node.input if node.op_type == "Concat" else node.input[:1]
                    peak[out] = max((peak.get(t, 0.0) for t in sources if t), default=0.0)
    return peak


def out_of_range_nodes(model: "onnx.ModelProto", peaks: dict[str, float], limit: float) -> dict[str, str]:  # noqa: F821
    """Producers and consumers of tensors whose magnitude reaches ``limit``.

    Both sides must stay FP32: keeping only the producer would still cast the large value
    to FP16 on its way to the next node.
    """
    kept: dict[str, str] = {}
    for node in model.graph.node:
        for t in (*node.output, *node.input):
            if peaks.get(t, 0.0) >= limit:
                kept.setdefault(node.name, f"tensor {t} reaches {peaks[t]:.3g} (>= {limit:g})")
    return kept


def block_ops(float16: Any) -> list[str]:
    """Op types kept FP32: ``KEEP_FP32_OPS`` plus onnxconverter-common's block list less Resize/Upsample."""
    return sorted({*KEEP_FP32_OPS, *(op for op in float16.DEFAULT_OP_BLOCK_LIST if op not in _FP16_SAFE_FROM_DEFAULT)})


def convert_fp16(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], feeds: Iterable[Feeds] | None = None,
    max_abs: float = 16384.0, threads: int = 0,
) -> Fp16Result:
    """Write an FP16 copy of ``src`` with FP32 inputs/outputs and fragile nodes kept in FP32.

    Args:
        src: FP32 ONNX file.
        dst: FP16 ONNX file to write (atomically).
        feeds: Real input frames for the activation-range analysis; ``None`` skips it.
        max_abs: Nodes whose FP32 output magnitude reaches this stay FP32.
        threads: ONNX Runtime threads for the analysis (0 = default).

    Raises:
        ExportError: the converter failed or its graph fails the ONNX checker.
    """
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError as e:
        raise BackendUnavailableError(
            "the FP16 pass needs onnxconverter-common: pip install 'edgefuse[export]' (or onnxconverter-common)"
        ) from e
    model = onnx.load(str(src))
    constants_to_initializers(model)
    kept: dict[str, str] = {}
    for name in norm_division_nodes(model):
        kept[name] = "Div by a norm/reduction"
    peaks = activation_max_abs(model, feeds, threads) if feeds is not None else {}
    for name, why in out_of_range_nodes(model, peaks, max_abs).items():
        kept.setdefault(name, why)
    block = block_ops(float16)
    for node in model.graph.node:
        if node.op_type in KEEP_FP32_OPS:
            kept.setdefault(node.name, KEEP_FP32_OPS[node.op_type])
    # the graph's own casts to FP32 (a bool mask to float, say): the converter types their outputs FP16
    # but leaves the target, and the graph no longer loads; those in the FP16 region must cast to FP16
    to_float = {n.name for n in model.graph.node if n.op_type == "Cast" and n.name not in kept
                and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in n.attribute)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "number X will be truncated": eps constants, expected
            converted = float16.convert_float_to_float16(
                model, keep_io_types=True, op_block_list=block, node_block_list=sorted(kept), max_finite_val=65504.0,
            )
        for node in converted.graph.node:
            if node.op_type == "Cast" and node.name in to_float:
                for a in node.attribute:
                    if a.name == "to":
                        a.i = onnx.TensorProto.FLOAT16
        onnx.checker.check_model(converted)
    except Exception as e:
        raise ExportError(f"FP16 conversion of {src} failed: {e}") from e
    with atomic_path(dst) as tmp:
        onnx.save(converted, str(tmp))
    present = sorted({n.op_type for n in model.graph.node} & set(block))
    logger.debug("FP16 graph %s: %d nodes kept in FP32", dst, len(kept))
    return Fp16Result(Path(dst), present, kept, {k: v for k, v in peaks.items() if np.isfinite(v)})
