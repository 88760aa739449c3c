"""ONNX Runtime helpers for the export stages: CPU sessions and intermediate-tensor statistics."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.errors import BackendUnavailableError

Feeds = dict[str, np.ndarray]
# bytes of intermediates exposed per session when collecting them (bounds memory at 480x640)
CHUNK_BYTES = 512 << 20
_UNKNOWN_BYTES = 4 << 20  # first guess for a tensor whose shape inference left dims open


def import_ort() -> Any:
    """``onnxruntime``, or a ``BackendUnavailableError`` naming the pip extra."""
    try:
        import onnxruntime
    except ImportError as e:
        raise BackendUnavailableError(
            "onnxruntime is not installed; install the export extra: pip install 'edgefuse[export]'"
        ) from e
    return onnxruntime


def session(model: str | os.PathLike[str] | bytes | Any, threads: int = 0, optimize: bool = True,
            qdq_fusions: bool = True) -> Any:
    """A CPU ``InferenceSession`` for a path, serialized bytes or a ``ModelProto``.

    ``qdq_fusions=False`` runs Q/DQ as written (quantize, dequantize, float op): ORT's CPU
    DQ -> op -> Q fusions (QLinearConv, QLinearConcat, ...) take FP32 scales only, so an FP16
    Q/DQ graph needs it.
    """
    ort = import_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not qdq_fusions:
        so.add_session_config_entry("session.disable_quant_qdq", "1")
    if threads:
        so.intra_op_num_threads = threads
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if isinstance(model, (str, os.PathLike)):
        src: Any = str(Path(model))
    elif isinstance(model, bytes):
        src = model
    else:
        src = model.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run(sess: Any, feeds: Feeds) -> np.ndarray:
    """The first output of ``sess`` for ``feeds`` (the fused image)."""
    return sess.run(None, feeds)[0]


def _sizes(model: Any) -> dict[str, int]:
    """Bytes of each tensor whose shape inference fixed every dim (4 bytes per element)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    sizes = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
        if dims and all(dims):
            sizes[vi.name] = 4 * int(np.prod(dims))
    return sizes


def collect(
    model: Any, names: Sequence[str], feeds: Iterable[Feeds],
    fn: Callable[[str, np.ndarray, int], None], threads: int = 0,
) -> None:
    """Run ``model`` with ``names`` exposed as outputs and call ``fn(name, value, feed_index)``.

    The names are exposed a chunk at a time (about ``CHUNK_BYTES`` of activations per chunk)
    so that a 480x640 transformer does not hold every activation in memory at once. Sizes come
    from shape inference; where it left dims open (reshapes computed at run time), from the
    mean size of such tensors seen so far. Names at positions 2k and 2k+1 share a chunk.
    """
    import onnx

    feed_list = list(feeds)
    outputs = {o.name for o in model.graph.output}
    known = _sizes(model)
    seen_unknown: list[int] = []
    names = list(names)
    start = 0
    while start < len(names):
        guess = int(np.mean(seen_unknown)) if seen_unknown else _UNKNOWN_BYTES
        chunk, used = [], 0
        while start < len(names):
            group = names[start: start + 2]
            size = sum(known.get(n, guess) for n in group)
            if chunk and used + size > CHUNK_BYTES:
                break
            chunk += group
            used += size
            start += 2
        aug = onnx.ModelProto()
        aug.CopyFrom(model)
        for name in chunk:
            if name not in outputs:
                aug.graph.output.append(onnx.ValueInfoProto(name=name))
        sess = session(aug, threads=threads)  # ORT keeps requested outputs out of its fusions
        for i, feed in enumerate(feed_list):
            for name, value in zip(chunk, sess.run(chunk, feed)):
                if i == 0 and name not in known:
                    seen_unknown.append(value.nbytes)
                fn(name, value, i)
        del sess


def float_tensors(model: Any) -> dict[str, str]:
    """Float32/16 tensors produced by nodes -> producing node name (via shape inference)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    types = {vi.name: vi.type.tensor_type.elem_type for vi in (*inferred.graph.value_info, *inferred.graph.output)}
    return {out: node.name for node in model.graph.node for out in node.output if types.get(out) in floats}
