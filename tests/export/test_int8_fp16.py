"""The FP16 Q/DQ graph (``*_int8_fp16.onnx``): FP16 outside the Q/DQ pairs, FP32 islands, ORT parity."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from edgefuse.export import export_onnx
from edgefuse.export import int8 as int8_mod
from edgefuse.export._ort import run, session
from edgefuse.export.calibration import CalibrationSet
from edgefuse.metrics.similarity import psnr_u8
from tests.export.conftest import H, W, requires_fp16

pytestmark = requires_fp16


def _islands(model: onnx.ModelProto, keep: set[str]) -> set[str]:
    """The nodes ``to_fp16_qdq`` keeps FP32 for ``keep``: kept nodes, fragile op types, their Q/DQ pairs."""
    from onnxconverter_common import float16

    from edgefuse.export.fp16 import block_ops

    kept = set(keep) | {n.name for n in model.graph.node if n.op_type in block_ops(float16)}
    return kept | int8_mod._qdq_feeding_only(model, kept) | int8_mod._subnormal_scale_qdq(model)


def _float32_outside(model: onnx.ModelProto, islands: set[str]) -> list[tuple[str, str]]:
    """(node, tensor) for every float32 tensor a node outside the islands reads or writes (Casts are the seams)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    types.update({t.name: t.data_type for t in model.graph.initializer})
    return [(n.name, t) for n in model.graph.node if n.name not in islands and n.op_type != "Cast"
            for t in (*n.input, *n.output) if t and types.get(t) == TensorProto.FLOAT]


def _check_structure(int8_path, fp16_path, keep: set[str]) -> onnx.ModelProto:
    q8, q16 = onnx.load(str(int8_path)), onnx.load(str(fp16_path))
    onnx.checker.check_model(q16, full_check=True)
    assert max(o.version for o in q16.opset_import if o.domain in ("", "ai.onnx")) == int8_mod.FP16_QDQ_OPSET
    islands = _islands(q16, keep)
    assert _float32_outside(q16, islands) == []
    assert [i.type.tensor_type.elem_type for i in (*q16.graph.input, *q16.graph.output)] == [TensorProto.FLOAT] * (
        len(q16.graph.input) + len(q16.graph.output))  # FP32 I/O
    ops = [n.op_type for n in q8.graph.node]
    ops16 = [n.op_type for n in q16.graph.node]
    for op in ("QuantizeLinear", "DequantizeLinear"):  # every pair is still there
        assert ops.count(op) == ops16.count(op)
    consumers = {t: [c for c in q16.graph.node if t in c.input] for n in q16.graph.node for t in n.output}
    for q in (n for n in q16.graph.node if n.op_type == "QuantizeLinear"):
        assert consumers[q.output[0]] and all(c.op_type == "DequantizeLinear" for c in consumers[q.output[0]])
    assert int8_mod.weight_axes(fp16_path) == int8_mod.weight_axes(int8_path)  # per-channel axes as before
    assert all(r["axis"] == r["output_axis"] for r in int8_mod.weight_axes(fp16_path))
    inits = {t.name: t for t in q16.graph.initializer}
    for dq in (n for n in q16.graph.node if n.op_type == "DequantizeLinear"):
        scale = inits[dq.input[1]].data_type
        assert scale == (TensorProto.FLOAT if dq.name in islands else TensorProto.FLOAT16), dq.name
        if dq.input[0] in inits:
            assert inits[dq.input[0]].data_type == TensorProto.INT8
    return q16


def _parity(int8_path, fp16_path, feeds) -> tuple[float, float]:
    a, b = session(int8_path, qdq_fusions=False), session(fp16_path, qdq_fusions=False)  # the same Q/DQ arithmetic
    outs = [(run(a, f), run(b, f)) for f in feeds]
    assert all(np.isfinite(y).all() and y.dtype == np.float32 for _, y in outs)
    return (float(np.mean([psnr_u8(y, x) for x, y in outs])), max(float(np.abs(x - y).max()) for x, y in outs))


def test_exported_fp16_qdq_graph_is_fp16_outside_the_qdq_pairs_and_islands(int8_export):
    _, report, _ = int8_export
    int8 = json.loads(report.sidecars["int8_fp16"].read_text())["int8"]
    keep = {*int8["kept_fp32_nodes"], *int8["fp16_kept_fp32_nodes"]}
    _check_structure(report.artefacts["int8"], report.artefacts["int8_fp16"], keep)


def test_ort_backend_runs_the_exported_fp16_qdq_graph(int8_export):
    from edgefuse.runtime import open_backend
    from edgefuse.runtime.backends.ort_backend import _fp16_qdq

    _, report, _ = int8_export
    assert _fp16_qdq(report.artefacts["int8_fp16"]) and not _fp16_qdq(report.artefacts["int8"])
    rng = np.random.default_rng(0)
    with open_backend(onnx=report.artefacts["int8_fp16"]) as be:
        out = be.infer(rng.random((1, 3, H, W), dtype=np.float32), rng.random((1, 1, H, W), dtype=np.float32))
    assert be.precision == "int8" and np.isfinite(out).all()


@pytest.fixture(scope="module")
def nano_int8(nano, calib_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("q16")
    src = export_onnx(nano, d / "n.onnx", H, W)
    frames = CalibrationSet.open(calib_dir).frames((H, W), 6, seed=0)
    int8_mod.quantize(src, d / "n_int8.onnx", frames)
    return d / "n_int8.onnx", frames


def test_kept_nodes_stay_fp32_with_their_qdq_pairs(nano_int8, tmp_path):
    int8_path, frames = nano_int8
    quantized = int8_mod._quantized_nodes(int8_path)
    kept = {quantized[0], quantized[-1]}  # the first conv reads the images, the last writes the output
    out = int8_mod.to_fp16_qdq(int8_path, tmp_path / "k.onnx", sorted(kept))
    model = _check_structure(int8_path, out, kept)
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {t.name: t for t in model.graph.initializer}
    for name in kept:
        node = next(n for n in model.graph.node if n.name == name)
        dqs = [producers[t] for t in node.input if t in producers and producers[t].op_type == "DequantizeLinear"]
        assert dqs and all(inits[dq.input[1]].data_type == TensorProto.FLOAT for dq in dqs)  # an FP32 pair
    psnr, diff = _parity(int8_path, out, frames[:3])
    assert psnr >= 45 and diff < 0.05


def test_ort_runs_it_close_to_the_fp32_qdq_graph(nano_int8, tmp_path):
    int8_path, frames = nano_int8
    out = int8_mod.to_fp16_qdq(int8_path, tmp_path / "n_int8_fp16.onnx")
    psnr, diff = _parity(int8_path, out, frames)
    assert psnr >= 45 and diff < 0.05, (psnr, diff)


def test_subnormal_scales_keep_their_qdq_pair_fp32(nano_int8, tmp_path):
    int8_path, _ = nano_int8
    model = onnx.load(str(int8_path))
    inits = {t.name: t for t in model.graph.initializer}
    dq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits)
    scale = numpy_helper.to_array(inits[dq.input[1]]).copy()
    scale[0] = 1e-6  # below FP16's smallest normal 2**-14
    inits[dq.input[1]].CopyFrom(numpy_helper.from_array(scale, dq.input[1]))
    onnx.save(model, str(tmp_path / "tiny.onnx"))
    out = int8_mod.to_fp16_qdq(tmp_path / "tiny.onnx", tmp_path / "tiny16.onnx")
    q16 = onnx.load(str(out))
    kept_dq = next(n for n in q16.graph.node if n.name == dq.name)
    assert {t.name: t for t in q16.graph.initializer}[kept_dq.input[1]].data_type == TensorProto.FLOAT
    session(out, qdq_fusions=False)


def test_search_scores_the_fp16_qdq_graph(nano_int8, calib_dir, tmp_path):
    int8_path, frames = nano_int8
    src = int8_path.with_name("n.onnx")
    res = int8_mod.quantize_int8(src, tmp_path / "s_int8.onnx", frames, eval_feeds=frames[:2], psnr_target=99.0,
                                 max_fp32_nodes=1, fp16_dst=tmp_path / "s_int8_fp16.onnx")
    assert res.scored == "int8_fp16" and res.fp16_path.is_file() and len(res.kept_fp32) == 1
    refs = [run(session(src), f) for f in frames[:2]]
    sess = session(res.fp16_path, qdq_fusions=False)
    engine_like = float(np.mean([psnr_u8(run(sess, f), r) for f, r in zip(frames[:2], refs)]))
    assert res.psnr_db == pytest.approx(engine_like, abs=0.01)  # the score is the FP16 Q/DQ graph's
    assert res.psnr_db_fp32_elsewhere is not None
    _check_structure(res.path, res.fp16_path, set(res.kept_fp32))
    assert not list(tmp_path.glob(".*probe*"))


def _real_pairs(folder, size, n):
    import cv2

    h, w = size
    feeds = []
    for ir_path in sorted((folder / "ir").iterdir())[:n]:
        ir = cv2.resize(cv2.imread(str(ir_path), cv2.IMREAD_GRAYSCALE), (w, h), interpolation=cv2.INTER_AREA)
        vi = cv2.resize(cv2.imread(str(folder / "vi" / ir_path.name))[:, :, ::-1], (w, h), interpolation=cv2.INTER_AREA)
        feeds.append({"vis": np.ascontiguousarray(vi.transpose(2, 0, 1)[None], np.float32) / 255,
                      "ir": (ir[None, None] / 255).astype(np.float32)})
    return feeds


@pytest.mark.slow
@pytest.mark.parametrize("name", ["edge_nano_ivf", "dtpf_student"])
def test_students_on_msrs(name, tmp_path, shared_data):
    """Calibrated on MSRS *train*, compared on 8 MSRS test pairs at 64x64 (the test split only measures)."""
    from edgefuse.export.fp16 import convert_fp16
    from edgefuse.fusion import shipped_models
    from edgefuse.models import create_model
    from edgefuse.models.checkpoint import load_checkpoint

    model = load_checkpoint(str(shipped_models()[name]))[0] if name in shipped_models() else create_model(name)
    src = export_onnx(model.eval(), tmp_path / f"{name}.onnx", 64, 64)
    frames = CalibrationSet.open(shared_data / "msrs" / "train").frames((64, 64), 8, seed=0)
    keep = set(convert_fp16(src, tmp_path / f"{name}_fp16.onnx", frames[:2]).kept_nodes)
    int8_mod.quantize(src, tmp_path / f"{name}_int8.onnx", frames)
    out = int8_mod.to_fp16_qdq(tmp_path / f"{name}_int8.onnx", tmp_path / f"{name}_int8_fp16.onnx", sorted(keep))
    _check_structure(tmp_path / f"{name}_int8.onnx", out, keep)
    psnr, diff = _parity(tmp_path / f"{name}_int8.onnx", out, _real_pairs(shared_data / "msrs" / "test", (64, 64), 8))
    print(f"{name}: FP16 Q/DQ vs FP32 Q/DQ, 8 MSRS test pairs: PSNR {psnr:.2f} dB, max |diff| {diff:.4g}")
    assert psnr >= 40 and diff < 0.1
