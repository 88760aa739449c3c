"""Explicit INT8 quantization (Q/DQ) for TensorRT: symmetric S8S8, per-channel weights, paired calibration.

Placement follows TensorRT's explicit-quantization guidance: Q/DQ on the inputs (activation
and weight) of the weighted ops only (Conv, ConvTranspose, Gemm, MatMul with a constant B),
zero points 0, biases left in float (TensorRT has no INT32 DequantizeLinear), outputs not
re-quantized. Attention products of two activations (Q K^T, attention x V) stay in float: their
inputs (softmax rows, normalised queries) lose most to 8 bits and they are cheap next to the
convolutions.
ONNX Runtime's ``quantize_static`` writes the graph; its calibration cache is keyed by us.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.data.images import u8_from_float, u8_hwc
from edgefuse.data.pairs import LoadedPair
from edgefuse.errors import ExportError
from edgefuse.export._io import atomic_path
from edgefuse.export._ort import Feeds, collect, run, session
from edgefuse.export.calibration import to_feeds
from edgefuse.runtime.compare import Comparison, Fuser, compare

logger = logging.getLogger(__name__)

QUANT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
# Per-channel weight axis per op type, where ORT's default is not the output-channel axis (negative: from the end,
# ORT normalises it per weight rank). MatMul B is (..., K, N): N is the output channel for 2-D and 3-D weights.
PER_CHANNEL_AXIS = {"MatMul": -1}


@dataclass
class Int8Result:
    """The INT8 graph, what stayed in FP32, and how the PSNR target search went."""

    path: Path
    method: str
    kept_fp32: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    psnr_db: float | None = None
    target_met: bool | None = None
    cache: str | None = None
    cache_hit: bool = False
    sensitivity: dict[str, float] = field(default_factory=dict)
    ranking: str = ""
    fp16_path: Path | None = None
    scored: str = "int8"  # the graph the PSNRs are of: "int8" (FP32 elsewhere) or "int8_fp16" (FP16 Q/DQ)
    psnr_db_fp32_elsewhere: float | None = None


# Views handed to the calibrator per collection round: ORT keeps every activation of a round
# in memory (a 128x128 DTPF student holds ~1.5 GB per view), so rounds stay small.
VIEWS_PER_ROUND = 2


def _stride(n: int) -> int:
    """The largest divisor of ``n`` up to ``VIEWS_PER_ROUND`` (ORT wants rounds of equal size)."""
    return max(d for d in range(1, min(n, VIEWS_PER_ROUND) + 1) if n % d == 0)


def _reader(feeds: Sequence[Feeds]) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _PairReader(CalibrationDataReader):
        """Feeds paired ``vis``/``ir`` frames to the calibrator, a round (``set_range``) at a time."""

        def __init__(self) -> None:
            self.set_range(0, len(feeds))

        def __len__(self) -> int:
            return len(feeds)

        def set_range(self, start_index: int, end_index: int) -> None:
            self._it = iter(feeds[start_index:end_index])

        def get_next(self) -> Feeds | None:
            return next(self._it, None)

        def rewind(self) -> None:
            self.set_range(0, len(feeds))

    return _PairReader()


class _DropPreprocessHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-process" not in str(record.msg)


@contextlib.contextmanager
def _quiet_ort_hints() -> Iterator[None]:
    """ORT logs a 'run pre-processing' hint on the root logger per call; it is noise here."""
    f = _DropPreprocessHint()
    logging.root.addFilter(f)
    try:
        yield
    finally:
        logging.root.removeFilter(f)


def quantize(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], feeds: Sequence[Feeds], method: str = "minmax",
    exclude: Sequence[str] = (), cache: str | os.PathLike[str] | None = None,
) -> None:
    """One ``quantize_static`` run: S8S8 Q/DQ, per-channel weights, float bias; writes ``dst`` atomically."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    kwargs: dict[str, Any] = {}
    if cache is not None and "calibration_cache_path" in inspect.signature(quantize_static).parameters:
        kwargs["calibration_cache_path"] = str(cache)
    extra = {
        "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
        "OpTypesToExcludeOutputQuantization": list(QUANT_OPS),
        "MatMulConstBOnly": True,  # attention BMMs (activation x activation) stay float: see module doc
        "CalibStridedMinMax": _stride(len(feeds)),  # despite the name, rounds for every method
        # ORT's per-channel axis for a MatMul weight defaults to 1: for a 3-D B (batch, K, N) that is K, the
        # reduction axis, and TensorRT wants per-channel scales along the output channels N (the last axis).
        "QDQOpTypePerChannelSupportToAxis": dict(PER_CHANNEL_AXIS),
    }
    exclude = list(dict.fromkeys([*exclude, *_matmuls_without_constant_b(src)]))  # order kept, no repeats
    with atomic_path(dst) as tmp, _quiet_ort_hints():
        try:
            quantize_static(
                str(src), str(tmp), _reader(feeds), quant_format=QuantFormat.QDQ, op_types_to_quantize=list(QUANT_OPS),
                per_channel=True, reduce_range=False, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude), calibrate_method=getattr(CalibrationMethod, METHODS[method]),
                extra_options=extra, **kwargs,
            )
        except Exception as e:
            raise ExportError(f"INT8 quantization ({method}) of {src} failed: {e}") from e


def sensitivity(
    float_path: str | os.PathLike[str], qdq_path: str | os.PathLike[str], feeds: Sequence[Feeds]
) -> dict[str, float]:
    """Per quantized node, the worst SQNR (dB) of its quantized inputs: activation and weight.

    Lower means the node loses more to INT8; the PSNR search keeps the lowest first in FP32.
    """
    import onnx
    from onnx import numpy_helper

    qdq = onnx.load(str(qdq_path))
    fp = onnx.load(str(float_path))
    inits = {t.name: t for t in qdq.graph.initializer}
    fp_inits = {t.name: t for t in fp.graph.initializer}
    fp_nodes = {n.name: n for n in fp.graph.node}
    consumers: dict[str, list[Any]] = {}
    for node in qdq.graph.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node)
    scores: dict[str, float] = {}

    def worst(node_name: str, sqnr: float) -> None:
        scores[node_name] = min(scores.get(node_name, np.inf), sqnr)

    pairs: dict[str, str] = {}  # activation x -> its DequantizeLinear output
    for node in qdq.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in inits:
            for dq in consumers.get(node.output[0], []):
                if dq.op_type == "DequantizeLinear":
                    pairs[node.input[0]] = dq.output[0]
        elif node.op_type == "DequantizeLinear" and node.input[0] in inits:
            _weight_sqnr(node, inits, fp_inits, fp_nodes, consumers, worst, numpy_helper)
    inverse = {xq: x for x, xq in pairs.items()}
    pending: dict[str, np.ndarray] = {}
    energy: dict[str, list[float]] = {}  # x -> [signal, noise]

    def add(name: str, value: np.ndarray, _i: int) -> None:
        if name in pairs:
            pending[name] = value.astype(np.float64)
            return
        x = pending.pop(inverse[name])
        acc = energy.setdefault(inverse[name], [0.0, 0.0])
        acc[0] += float((x ** 2).sum())
        acc[1] += float(((x - value) ** 2).sum())

    # x and its dequantized copy are adjacent, so they land in the same chunk
    collect(qdq, [t for x, xq in pairs.items() for t in (x, xq)], feeds, add)
    for x, (signal, noise) in energy.items():
        sqnr = 10 * np.log10(max(signal, 1e-30) / max(noise, 1e-30))
        for node in consumers.get(pairs[x], []):
            worst(node.name, sqnr)
    quantized = {n.name for n in qdq.graph.node if n.op_type in QUANT_OPS}
    return {k: float(v) for k, v in sorted(scores.items(), key=lambda kv: kv[1]) if k in quantized}


def _weight_sqnr(dq: Any, inits: dict, fp_inits: dict, fp_nodes: dict, consumers: dict, worst: Any, nh: Any) -> None:
    q = nh.to_array(inits[dq.input[0]]).astype(np.float64)
    scale = nh.to_array(inits[dq.input[1]]).astype(np.float64)
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    if scale.ndim == 1 and q.ndim > 1:
        scale = scale.reshape([-1 if d == axis else 1 for d in range(q.ndim)])
    deq = q * scale
    for node in consumers.get(dq.output[0], []):
        orig = fp_nodes.get(node.name)
        if orig is None or len(orig.input) < 2 or orig.input[1] not in fp_inits:
            continue
        w = nh.to_array(fp_inits[orig.input[1]]).astype(np.float64)
        if w.shape == deq.shape:
            noise = float(((w - deq) ** 2).sum())
            worst(node.name, 10 * np.log10(max(float((w ** 2).sum()), 1e-30) / max(noise, 1e-30)))


# Graphs with at most this many quantized nodes rank them by measuring each node kept in FP32
# alone (one re-quantization from the cache each); larger graphs use the SQNR estimate.
EXACT_RANK_MAX = 48


def _matmuls_without_constant_b(path: str | os.PathLike[str]) -> list[str]:
    """MatMul nodes whose B is not an initializer: they stay float (see the module doc).

    ``MatMulConstBOnly`` does not cover a constant *A*, e.g. the edge students' exported
    luminance (1x3 @ 3 x H*W): ORT would quantize it per channel along the wrong axis, for
    3 MACs per pixel.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] not in inits]


def weight_axes(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every per-channel weight DequantizeLinear of a Q/DQ graph: consumer, weight shape, its axis, the wanted one.

    The wanted axis is the consumer's output-channel axis: 0 for Conv (M, C/g, kH, kW), 1 for
    ConvTranspose (C, M/g, kH, kW), the last axis for MatMul's B (..., K, N) and for Gemm's B
    (K, N), the first for a Gemm with ``transB=1`` (N, K).
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name: list(t.dims) for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node)
    rows = []
    for dq in graph.node:
        if dq.op_type != "DequantizeLinear" or dq.input[0] not in inits or len(inits.get(dq.input[1], [])) != 1:
            continue  # per-tensor scales (a 0-D scale) have no axis
        shape = inits[dq.input[0]]
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1) % len(shape)
        for node in consumers.get(dq.output[0], []):
            if node.op_type not in QUANT_OPS or list(node.input).index(dq.output[0]) != 1:
                continue
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            wanted = {"Conv": 0, "ConvTranspose": 1, "Gemm": 0 if trans_b else len(shape) - 1}.get(
                node.op_type, len(shape) - 1)
            rows.append({"node": node.name, "op": node.op_type, "weight": dq.input[0], "shape": shape,
                         "axis": axis, "output_axis": wanted})
    return rows


def _quantized_nodes(path: str | os.PathLike[str]) -> list[str]:
    """Names of the nodes whose inputs come through DequantizeLinear, in graph order."""
    import onnx

    model = onnx.load(str(path))
    dq = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return [n.name for n in model.graph.node if n.op_type in QUANT_OPS and any(t in dq for t in n.input)]


def exclusion_gains(
    src: str | os.PathLike[str], qdq: str | os.PathLike[str], calib: Sequence[Feeds], method: str,
    cache: str | os.PathLike[str] | None, eval_feeds: Sequence[Feeds], score: Any,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """PSNR gain (dB) of keeping each quantized node in FP32 alone, largest first.

    Measures what a node's quantization costs at the output, which an input-SQNR estimate
    misses for nodes near the output or on the image inputs. ``names`` limits the candidates
    (default: every quantized node); ``score(path)`` is the PSNR of a graph vs FP32.
    """
    base = score(Path(qdq))
    gains = {}
    probe = Path(qdq).with_name(f".{Path(qdq).stem}.probe.onnx")
    try:
        for name in names if names is not None else _quantized_nodes(qdq):
            quantize(src, probe, calib, method, exclude=[name], cache=cache)
            gains[name] = score(probe) - base
    finally:
        probe.unlink(missing_ok=True)
    return dict(sorted(gains.items(), key=lambda kv: -kv[1]))


def _smallest_meeting(attempt: Any, limit: int, target: float) -> int:
    """Smallest n <= limit with attempt(n) >= target: doubling, then bisection; ``limit`` if none."""
    if limit == 0:
        return 0
    lo, n = 0, 1
    while True:
        n = min(n, limit)
        if attempt(n) >= target:
            break
        if n >= limit:
            return limit
        lo, n = n, n * 2
    hi = n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def pairs_from_feeds(feeds: Sequence[Feeds]) -> list[LoadedPair]:
    """Graph feeds (``uint8 / 255``, as ``to_feeds`` makes them) back as 8-bit pairs for ``compare`` (exact)."""
    return [LoadedPair(f"view{k}", u8_from_float(f["ir"][0, 0]), u8_hwc(f["vis"])) for k, f in enumerate(feeds)]


def _graph_fuser(sess: Any) -> Fuser:
    return lambda vis, ir: run(sess, {"vis": vis, "ir": ir})


def quantize_int8(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], calib: Sequence[Feeds], method: str = "minmax",
    cache: str | os.PathLike[str] | None = None, eval_feeds: Sequence[Feeds] = (),
    psnr_target: float | None = None, max_fp32_nodes: int = 16,
    fp16_dst: str | os.PathLike[str] | None = None, fp16_keep: Sequence[str] = (),
    score_pairs: Sequence[Any] = (), reference: Fuser | Comparison | None = None, threads: int = 0,
) -> Int8Result:
    """Quantize ``src`` to a Q/DQ graph; keep the worst nodes in FP32 until ``psnr_target`` is met.

    With ``fp16_dst`` the FP16 Q/DQ graph (``to_fp16_qdq``) is written too, and the search scores
    it, not the FP32-elsewhere graph: every candidate is converted (its search-kept nodes and
    ``fp16_keep`` FP32) before it is measured. That is what a TensorRT INT8 engine runs: strongly
    typed it is built from that graph; weakly typed (TensorRT 10, INT8 + FP16 flags) the layers
    outside the Q/DQ pairs may run FP16 and the kept nodes are pinned FP32 by name.

    Args:
        src: FP32 ONNX file.
        dst: INT8 Q/DQ ONNX file (written atomically).
        calib: Calibration feeds (paired frames at the export size, never test data).
        method: ``minmax``, ``entropy`` or ``percentile``.
        cache: Calibration cache file (JSON of tensor ranges); reused when it exists.
        eval_feeds: Held-out calibration-folder frames for the PSNR search, scored against the
            FP32 graph ``src`` (when no ``score_pairs`` are given).
        psnr_target: PSNR (dB, 8-bit fused image vs the reference, ``edgefuse.runtime.compare``)
            to reach; ``None`` skips the search.
        max_fp32_nodes: At most this many nodes are kept in FP32.
        fp16_dst: Also write the FP16 Q/DQ graph here, and score it in the search.
        fp16_keep: Nodes the FP16 export kept in FP32 (its sidecar's ``kept_fp32_nodes``).
        score_pairs: Loaded pairs at the graph's size to score the search on instead of
            ``eval_feeds`` (``run_export`` passes the parity pairs, so the search's score of the
            chosen graph is its parity PSNR).
        reference: What ``score_pairs`` are scored against: a fuser or a ``Comparison`` on them
            (``run_export``: the PyTorch FP32 outputs); default the FP32 graph ``src``.
        threads: ONNX Runtime intra-op threads of the scoring sessions (0: its default), as parity uses.
    """
    cache_hit = cache is not None and Path(cache).is_file()
    quantize(src, dst, calib, method, cache=cache)
    result = Int8Result(Path(dst), method, cache=str(cache) if cache else None, cache_hit=cache_hit)
    all_quantized = set(_quantized_nodes(dst))

    def fp16_of(path: Path, out: Path) -> Path:
        search_kept = all_quantized - set(_quantized_nodes(path))  # excluded from INT8 in this candidate
        return to_fp16_qdq(path, out, [*fp16_keep, *sorted(search_kept)])

    def finish() -> Int8Result:
        if fp16_dst is not None:
            result.fp16_path = fp16_of(Path(dst), Path(fp16_dst))
        return result

    pairs = list(score_pairs) or pairs_from_feeds(eval_feeds)
    if psnr_target is None or not pairs:
        return finish()
    fp32 = reference if reference is not None and score_pairs else _graph_fuser(session(src, threads=threads))
    base = compare(fp32, {}, pairs)  # the reference runs once
    feeds = list(eval_feeds) if not score_pairs else [to_feeds(p.vis, p.ir) for p in pairs]

    def score_graph(path: Path, qdq_fusions: bool = True) -> float:
        sess = session(path, threads=threads, qdq_fusions=qdq_fusions)
        return compare(base, {"int8": _graph_fuser(sess)}, pairs)["int8"].psnr_db

    probe16 = Path(dst).with_name(f".{Path(dst).stem}.fp16probe.onnx")

    def score(path: Path) -> float:
        if fp16_dst is None:
            return score_graph(path)
        try:
            return score_graph(fp16_of(path, probe16), qdq_fusions=False)  # ORT's fusions take FP32 scales only
        finally:
            probe16.unlink(missing_ok=True)

    if fp16_dst is not None:
        result.scored = "int8_fp16"

    result.psnr_db = score(Path(dst))
    result.steps.append({"fp32_nodes": 0, "psnr_db": round(result.psnr_db, 2)})
    if result.psnr_db >= psnr_target or max_fp32_nodes == 0:
        result.target_met = result.psnr_db >= psnr_target
        if fp16_dst is not None:
            result.psnr_db_fp32_elsewhere = score_graph(Path(dst))
        return finish()
    if len(_quantized_nodes(dst)) <= EXACT_RANK_MAX:
        result.sensitivity = exclusion_gains(src, dst, calib, method, cache, feeds, score)
        result.ranking = "psnr gain when kept FP32 alone (measured per node)"
        ranked = [name for name, gain in result.sensitivity.items() if gain > 0]  # the rest do not help
    else:
        result.sensitivity = sensitivity(src, dst, feeds[:2])
        result.ranking = "lowest SQNR of the node's quantized inputs (estimate)"
        ranked = list(result.sensitivity)

    def attempt(n: int) -> float:
        quantize(src, dst, calib, method, exclude=ranked[:n], cache=cache)
        psnr = score(Path(dst))
        result.steps.append({"fp32_nodes": n, "psnr_db": round(psnr, 2)})
        return psnr

    final = _smallest_meeting(attempt, min(max_fp32_nodes, len(ranked)), psnr_target)
    if result.steps[-1]["fp32_nodes"] != final:
        attempt(final)  # leave dst as the chosen graph
    result.kept_fp32, result.psnr_db = ranked[:final], result.steps[-1]["psnr_db"]
    result.target_met = result.psnr_db >= psnr_target
    if fp16_dst is not None:
        result.psnr_db_fp32_elsewhere = score_graph(Path(dst))
    logger.debug("INT8 %s: %.2f dB with %d nodes in FP32", dst, result.psnr_db, len(result.kept_fp32))
    return finish()


# ONNX opset 19 is the first whose QuantizeLinear takes a float16 x / y_scale and whose DequantizeLinear
# returns float16 (its output type is the scale's); opset 13-18 Q/DQ are float32 only.
FP16_QDQ_OPSET = 19


def _qdq_feeding_only(model: Any, kept: set[str]) -> set[str]:
    """Q/DQ nodes whose every (transitive, through Q -> DQ) consumer is a kept-FP32 node: they stay FP32 too.

    A kept node's quantized inputs then arrive through an FP32 Q/DQ pair (an FP16 tensor is cast to FP32
    before its QuantizeLinear), never through a Cast between a DequantizeLinear and its consumer.
    """
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for t in node.input:
            consumers.setdefault(t, []).append(node)
    dqs = {n.name for n in model.graph.node if n.op_type == "DequantizeLinear"
           and consumers.get(n.output[0]) and all(c.name in kept for c in consumers[n.output[0]])}
    qs = {n.name for n in model.graph.node if n.op_type == "QuantizeLinear"
          and consumers.get(n.output[0]) and all(c.name in dqs for c in consumers[n.output[0]])}
    return dqs | qs


def _fold_initializer_identities(model: Any) -> None:
    """Replace ``Identity(initializer)`` (shared weights) by a copy of the initializer under the output's name.

    The FP16 converter types an Identity's output by its consumers: one feeding a kept-FP32 node
    (a LayerNorm's bias) would say FP32 over an initializer it made FP16.
    """
    inits = {t.name: t for t in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    drop = []
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            copy = type(inits[node.input[0]])()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            model.graph.initializer.append(copy)
            drop.append(node)
    for node in drop:
        model.graph.node.remove(node)


def _subnormal_scale_qdq(model: Any) -> set[str]:
    """Q/DQ nodes with a scale below FP16's smallest normal number (2**-14): FP16 would lose its precision.

    They keep FP32 scales (a Q and its DQ share the scale, so both stay FP32).
    """
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    tiny = set()
    for name, t in inits.items():
        if t.data_type == 1:  # FLOAT
            arr = numpy_helper.to_array(t)
            if arr.size and arr.size <= 1 << 16 and float(np.abs(arr).min()) < 2.0 ** -14:
                tiny.add(name)
    return {n.name for n in model.graph.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 1 and n.input[1] in tiny}


def to_fp16_qdq(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], keep_fp32: Sequence[str] = (),
) -> Path:
    """Write the FP16 Q/DQ graph of an INT8 Q/DQ graph: FP16 outside the Q/DQ pairs, FP32 I/O.

    NVIDIA's explicit-quantization recipe for strongly typed TensorRT uses FP16 as the high-precision
    type around Q/DQ (TensorRT Model Optimizer: ``modelopt.onnx.quantization.quantize(...,
    high_precision_dtype="fp16")``, its default). The graph is moved to opset 19 (ONNX's version
    converter), where Q/DQ take FP16 scales: activation QuantizeLinear x and y_scale are FP16,
    every DequantizeLinear (activations and per-channel weights, axes unchanged) returns FP16.
    Kept FP32, with Casts around them: ``keep_fp32`` (the FP16 export's kept nodes, the nodes the
    INT8 search kept out of INT8), the FP16 pass's fragile op types, the Q/DQ pairs that feed
    only kept nodes, and Q/DQ pairs whose scale is below FP16's normal range (FP32 scales there).
    """
    import onnx
    from onnx import version_converter

    from edgefuse.export.fp16 import block_ops

    try:
        from onnxconverter_common import float16
    except ImportError as e:
        from edgefuse.errors import BackendUnavailableError

        raise BackendUnavailableError(
            "the FP16 Q/DQ graph needs onnxconverter-common: pip install 'edgefuse[export]'") from e
    model = onnx.load(str(src))
    try:
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=FP16_QDQ_OPSET)
        if opset < FP16_QDQ_OPSET:
            model = version_converter.convert_version(model, FP16_QDQ_OPSET)
        _fold_initializer_identities(model)
        names = {n.name for n in model.graph.node}
        kept = {n for n in keep_fp32 if n in names}
        kept |= {n.name for n in model.graph.node if n.op_type in block_ops(float16)}
        kept |= _qdq_feeding_only(model, kept)
        kept |= _subnormal_scale_qdq(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "number X will be truncated": eps constants, expected
            converted = float16.convert_float_to_float16(
                model, keep_io_types=True, op_block_list=block_ops(float16), node_block_list=sorted(kept),
                max_finite_val=65504.0,
            )
        onnx.checker.check_model(converted)
    except Exception as e:
        raise ExportError(f"FP16 Q/DQ conversion of {src} failed: {e}") from e
    with atomic_path(dst) as tmp:
        onnx.save(converted, str(tmp))
    return Path(dst)
