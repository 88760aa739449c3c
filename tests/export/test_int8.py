"""INT8 Q/DQ graphs and their calibration data: scheme, errors, cache, the FP32-fallback search."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgefuse.errors import DataError
from edgefuse.export import export_onnx, quantize_int8
from edgefuse.export import int8 as int8_mod
from edgefuse.export.calibration import CalibrationSet, refuse_test_split
from tests.export.conftest import H, W
from tests.helpers import write_pair_dataset


@pytest.fixture(scope="module")
def fp32_path(nano, tmp_path_factory):
    return export_onnx(nano, tmp_path_factory.mktemp("i8") / "n.onnx", H, W)


@pytest.fixture(scope="module")
def calib_frames(calib_dir):
    return CalibrationSet.open(calib_dir).frames((H, W), 6, seed=0)


def test_int8_graph_is_symmetric_qdq_with_per_channel_weights(int8_export):
    _, report, _ = int8_export
    model = onnx.load(str(report.artefacts["int8"]))
    inits = {t.name: t for t in model.graph.initializer}
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    conv_out_channels = {n.input[1]: None for n in model.graph.node if n.op_type == "Conv"}
    weight_dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert weight_dqs and len(weight_dqs) >= len(conv_out_channels) - 1
    for dq in weight_dqs:
        w = numpy_helper.to_array(inits[dq.input[0]])
        scale = numpy_helper.to_array(inits[dq.input[1]])
        zp = numpy_helper.to_array(inits[dq.input[2]])
        assert w.dtype == np.int8 and zp.dtype == np.int8 and not zp.any()
        assert scale.shape == (w.shape[0],)  # one scale per output channel
        assert next(a.i for a in dq.attribute if a.name == "axis") == 0
    for q in (n for n in model.graph.node if n.op_type == "QuantizeLinear"):
        zp = numpy_helper.to_array(inits[q.input[2]])
        assert zp.dtype == np.int8 and not zp.any() and zp.ndim == 0  # symmetric, per-tensor activations
    assert not any(t.data_type == onnx.TensorProto.INT32 for t in model.graph.initializer)  # bias stays float


def test_too_few_pairs(tmp_path):
    write_pair_dataset(tmp_path / "small", ["a", "b", "c"])
    with pytest.raises(DataError, match="too few calibration pairs.*3 found, at least 8"):
        CalibrationSet.open(tmp_path / "small")


def test_test_split_refused(tmp_path):
    folder = write_pair_dataset(tmp_path / "msrs" / "test", [f"p{i}" for i in range(8)])
    with pytest.raises(DataError, match="'test' split"):
        CalibrationSet.open(folder)
    with pytest.raises(DataError, match="test"):
        refuse_test_split(folder / "ir")
    refuse_test_split(tmp_path / "msrs" / "train")  # test_* pytest folders are not a split


def test_unreadable_image(tmp_path):
    folder = write_pair_dataset(tmp_path / "bad", [f"p{i}" for i in range(8)])
    (folder / "ir" / "p3.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="unreadable calibration pair 'p3'"):
        CalibrationSet.open(folder)


def test_frames_are_crops_at_the_export_size(calib_dir):
    cs = CalibrationSet.open(calib_dir)
    frames = cs.frames((24, 64), 5, seed=3)  # wider than the 56-pixel images: resized up, then cropped
    assert len(frames) == 5
    assert all(f["vis"].shape == (1, 3, 24, 64) and f["ir"].shape == (1, 1, 24, 64) for f in frames)
    assert all(0 <= f["vis"].min() and f["vis"].max() <= 1 for f in frames)
    again = cs.frames((24, 64), 5, seed=3)
    assert all(np.array_equal(a["ir"], b["ir"]) for a, b in zip(frames, again))


def test_calibration_cache_is_reused(fp32_path, calib_frames, tmp_path):
    cache = tmp_path / "cache.json"
    first = quantize_int8(fp32_path, tmp_path / "a.onnx", calib_frames, "minmax", cache=cache)
    assert not first.cache_hit and cache.is_file()
    second = quantize_int8(fp32_path, tmp_path / "b.onnx", calib_frames[:1], "minmax", cache=cache)
    assert second.cache_hit
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_other_calibration_methods(fp32_path, calib_frames, tmp_path, method):
    res = quantize_int8(fp32_path, tmp_path / f"{method}.onnx", calib_frames[:3], method)
    assert res.method == method and res.path.is_file()


def test_psnr_target_keeps_worst_layers_fp32(fp32_path, calib_frames, tmp_path, monkeypatch):
    monkeypatch.setattr(int8_mod, "EXACT_RANK_MAX", 0)  # the SQNR estimate; exact ranking below
    res = quantize_int8(fp32_path, tmp_path / "t.onnx", calib_frames, "minmax", eval_feeds=calib_frames[:2],
                        psnr_target=99.0, max_fp32_nodes=2)
    assert res.target_met is False and len(res.kept_fp32) == 2
    assert res.steps[0]["fp32_nodes"] == 0 and res.steps[-1]["fp32_nodes"] == 2
    assert list(res.sensitivity)[:2] == res.kept_fp32
    model = onnx.load(str(res.path))
    producers = {o: n for n in model.graph.node for o in n.output}
    for name in res.kept_fp32:
        node = next(n for n in model.graph.node if n.name == name)
        assert not any(producers.get(t) is not None and producers[t].op_type == "DequantizeLinear"
                       and producers[t].input[0] in {i.name for i in model.graph.initializer} for t in node.input)


def test_exact_ranking_measures_each_node(fp32_path, calib_frames, tmp_path):
    from edgefuse.export._ort import run, session
    from edgefuse.metrics.similarity import psnr_u8

    cache = tmp_path / "c.json"
    base = quantize_int8(fp32_path, tmp_path / "q.onnx", calib_frames, cache=cache).path
    refs = [run(session(fp32_path), f) for f in calib_frames[:2]]

    def score(path):
        sess = session(path)
        return float(np.mean([psnr_u8(run(sess, f), r) for f, r in zip(calib_frames[:2], refs)]))

    names = int8_mod._quantized_nodes(base)[:3]
    gains = int8_mod.exclusion_gains(fp32_path, base, calib_frames, "minmax", cache, calib_frames[:2], score, names)
    assert sorted(gains) == sorted(names)
    assert list(gains.values()) == sorted(gains.values(), reverse=True)
    assert not list(tmp_path.glob(".*probe*"))


def _matmul_graph(path):
    """x (2,5,8) @ W3 (2,8,4) -> @ W2 (4,6): a 3-D (batched) and a 2-D MatMul weight."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    w3 = numpy_helper.from_array(rng.standard_normal((2, 8, 4)).astype(np.float32), "w3")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 6)).astype(np.float32), "w2")
    nodes = [helper.make_node("MatMul", ["x", "w3"], ["h"], name="mm3"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="mm2")]
    g = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5, 6])], [w3, w2])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_matmul_weights_are_quantized_along_their_output_channels(tmp_path):
    src = _matmul_graph(tmp_path / "mm.onnx")
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.standard_normal((2, 5, 8)).astype(np.float32)} for _ in range(4)]
    int8_mod.quantize(src, tmp_path / "mm_int8.onnx", feeds)
    rows = {r["node"]: r for r in int8_mod.weight_axes(tmp_path / "mm_int8.onnx")}
    assert set(rows) == {"mm3", "mm2"}
    assert rows["mm3"]["shape"] == [2, 8, 4] and rows["mm3"]["axis"] == 2  # N, not K (axis 1)
    assert rows["mm2"]["shape"] == [4, 6] and rows["mm2"]["axis"] == 1
    assert all(r["axis"] == r["output_axis"] for r in rows.values())
    model = onnx.load(str(tmp_path / "mm_int8.onnx"))
    scales = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    dq3 = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0].startswith("w3"))
    assert scales[dq3.input[1]].shape == (4,)  # one scale per output channel


@pytest.mark.slow
def test_dtpf_student_int8_matmuls_use_the_output_channel_axis(tmp_path, shared_data):
    """dtpf_student at 64x64, calibrated on four MSRS *train* pairs: every quantized weight's axis."""
    from edgefuse.models import create_model

    model = create_model("dtpf_student").eval()
    src = export_onnx(model, tmp_path / "d.onnx", 64, 64)
    frames = CalibrationSet.open(shared_data / "msrs" / "train").frames((64, 64), 4, seed=0)
    int8_mod.quantize(src, tmp_path / "d_int8.onnx", frames)
    rows = int8_mod.weight_axes(tmp_path / "d_int8.onnx")
    matmuls = [r for r in rows if r["op"] == "MatMul"]
    assert matmuls and all(r["axis"] == r["output_axis"] for r in rows)
