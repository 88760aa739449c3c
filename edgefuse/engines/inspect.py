"""``edgefuse inspect``: I/O, op histogram, precision per node and TensorRT support of an ONNX file or engine."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.engines import onnx_support as sup
from edgefuse.runtime.trt._trt import tensorrt_version
from edgefuse.errors import ConfigError, EdgefuseError
from edgefuse.runtime.sidecars import ENGINE_SUFFIXES, is_engine

_FLOAT_NAMES = {1: "fp32", 10: "fp16", 16: "bf16", 11: "fp64"}
_QDQ = ("QuantizeLinear", "DequantizeLinear")


def _node_precision(node: Any, types: dict[str, int], dq_outputs: set[str]) -> str:
    if node.op_type in _QDQ:
        return "int8 (Q/DQ)"
    if any(t in dq_outputs for t in node.input):
        return "int8"
    for t in (*node.input, *node.output):
        if types.get(t) in _FLOAT_NAMES:
            return _FLOAT_NAMES[types[t]]
    return "int/shape"


def _restriction_issues(model: Any, inits: dict[str, Any]) -> list[str]:
    from onnx import helper, numpy_helper

    issues = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in _QDQ and len(node.input) > 2 and node.input[2] in inits:
            if np.any(numpy_helper.to_array(inits[node.input[2]]) != 0):
                rule = sup.RESTRICTIONS[node.op_type]
                issues.append(f"{node.name}: {node.op_type} with a non-zero zero point ({rule})")
        if node.op_type == "Resize":
            mode = attrs.get("mode", b"nearest")
            coord = attrs.get("coordinate_transformation_mode", b"half_pixel")
            mode, coord = (v.decode() if isinstance(v, bytes) else v for v in (mode, coord))
            if mode not in sup.RESIZE_MODES or coord not in sup.RESIZE_COORDINATES or attrs.get("antialias", 0):
                issues.append(f"{node.name}: Resize mode={mode} coordinates={coord} ({sup.RESTRICTIONS['Resize']})")
        if node.op_type == "LayerNormalization" and len([o for o in node.output if o]) > 1:
            rule = sup.RESTRICTIONS["LayerNormalization"]
            issues.append(f"{node.name}: LayerNormalization uses Mean/InvStdDev outputs ({rule})")
    return issues


def inspect_onnx(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe an ONNX file and check it against the TensorRT 10 parser's op support list."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as e:
        raise ConfigError(f"{path} is not a readable ONNX file: {e}") from e
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types.update({t.name: t.data_type for t in model.graph.initializer})
    inits = {t.name: t for t in model.graph.initializer}
    dq_outputs = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}

    def io(vi: Any) -> dict[str, Any]:
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name
        return {"name": vi.name, "shape": dims, "dtype": dtype}

    nodes = [{"name": n.name, "op": n.op_type, "precision": _node_precision(n, types, dq_outputs)}
             for n in model.graph.node]
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    unsupported: dict[str, list[str]] = {}
    for n in model.graph.node:
        if n.domain not in ("", "ai.onnx"):
            unsupported.setdefault(f"{n.domain}::{n.op_type} (custom domain, needs a plugin)", []).append(n.name)
        elif n.op_type in sup.UNSUPPORTED:
            unsupported.setdefault(n.op_type, []).append(n.name)
    issues = _restriction_issues(model, inits)
    lo, hi = sup.OPSET_RANGE
    if not lo <= opset <= hi:
        issues.append(f"opset {opset} is outside TensorRT {sup.TENSORRT_VERSION}'s range {lo}-{hi}")
    by_op: dict[str, Counter[str]] = {}
    for n in nodes:
        by_op.setdefault(n["op"], Counter())[n["precision"]] += 1
    return {
        "file": str(path), "kind": "onnx", "opset": opset,
        "inputs": [io(i) for i in model.graph.input], "outputs": [io(o) for o in model.graph.output],
        "ops": dict(Counter(n["op"] for n in nodes).most_common()),
        "precision": dict(Counter(n["precision"] for n in nodes).most_common()),
        "precision_by_op": {op: dict(c) for op, c in sorted(by_op.items())},
        "nodes": nodes,
        "unsupported": unsupported, "restriction_issues": issues,
        "support_list": {"source": sup.SOURCE, "tensorrt": sup.TENSORRT_VERSION},
    }


def inspect_engine(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a plan: its sidecar, and (where TensorRT is installed) I/O and per-layer precision."""
    from edgefuse.runtime.trt.guard import check_engine
    from edgefuse.runtime.sidecars import read_sidecar

    p = Path(path)
    report: dict[str, Any] = {"file": str(p), "kind": "engine", "sidecar": read_sidecar(p, required=False)}
    version = tensorrt_version()
    if version is None:
        report["note"] = "TensorRT is not installed here: layer information needs TensorRT (sidecar shown)"
        return report
    try:
        check_engine(p)
        report["compatible"] = True
    except EdgefuseError as e:
        report["compatible"], report["note"] = False, str(e)
        return report
    from edgefuse.runtime.trt.guard import deserialize

    import tensorrt as trt

    engine = deserialize(p)
    report["io"] = [
        {"name": (n := engine.get_tensor_name(i)), "mode": str(engine.get_tensor_mode(n)).split(".")[-1],
         "dtype": str(engine.get_tensor_dtype(n)).split(".")[-1], "shape": list(engine.get_tensor_shape(n))}
        for i in range(engine.num_io_tensors)
    ]
    info = json.loads(engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON))
    layers = []
    for layer in info.get("Layers", []):
        if isinstance(layer, str):  # built without DETAILED verbosity: names only
            layers.append({"name": layer})
            continue
        outs = layer.get("Outputs", [])
        dtype = [o.get("DataType") or o.get("Format/Datatype") for o in outs]
        layers.append({"name": layer.get("Name"), "type": layer.get("LayerType"), "outputs": dtype})
    report["layers"] = layers
    return report


def inspect_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Dispatch on the suffix: ``.onnx`` or a plan (``.plan``/``.engine``/``.trt``, as everywhere)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such file: {p}")
    if p.suffix == ".onnx":
        return inspect_onnx(p)
    if is_engine(p):
        return inspect_engine(p)
    raise ConfigError(f"cannot inspect {p}: expected an .onnx file or a TensorRT plan ({'/'.join(ENGINE_SUFFIXES)})")
