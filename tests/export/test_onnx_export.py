"""ONNX export: parity with torch, dynamic H/W, size rules, teachers, atomic writes, simplification."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edgefuse.errors import ConfigError, ExportError
from edgefuse.export import export_onnx, simplify_onnx
from edgefuse.export import simplify as simplify_mod
from edgefuse.export._ort import session
from edgefuse.export.onnx import check_exportable
from edgefuse.models import create_model
from tests.export.conftest import H, W


def _inputs(h: int, w: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"vis": rng.random((1, 3, h, w), dtype=np.float32), "ir": rng.random((1, 1, h, w), dtype=np.float32)}


def _torch(model, feeds):
    with torch.no_grad():
        return model(torch.from_numpy(feeds["vis"]), torch.from_numpy(feeds["ir"])).numpy()


def test_ort_fp32_matches_torch(nano, tmp_path):
    path = export_onnx(nano, tmp_path / "m.onnx", H, W)
    graph = onnx.load(str(path))
    assert [i.name for i in graph.graph.input] == ["vis", "ir"]
    assert [o.name for o in graph.graph.output] == ["fused"]
    assert graph.opset_import[0].version >= 17
    assert all(n.name for n in graph.graph.node)
    feeds = _inputs(H, W)
    out = session(path).run(None, feeds)[0]
    assert out.shape == (1, 3, H, W)
    assert np.abs(out - _torch(nano, feeds)).max() <= 1e-4


def test_dynamic_hw_runs_at_three_sizes(nano, tmp_path):
    path = export_onnx(nano, tmp_path / "dyn.onnx", 0, 0, dynamic=((32, 32), (48, 64), (96, 128)))
    assert simplify_onnx(path).startswith(("onnxsim", "onnxslim", "none"))
    sess = session(path)
    for h, w in [(48, 64), (40, 56), (96, 128)]:  # 40x56 was never traced
        feeds = _inputs(h, w, seed=h)
        out = sess.run(None, feeds)[0]
        assert out.shape == (1, 3, h, w)
        assert np.abs(out - _torch(nano, feeds)).max() <= 1e-4


def test_dtpf_wrong_size_names_the_rule():
    dtpf = create_model("dtpf_student")
    with pytest.raises(ConfigError, match="multiples of 64"):
        check_exportable(dtpf, [(100, 128)])
    with pytest.raises(ConfigError, match="multiples of 64"):
        export_onnx(dtpf, "/nonexistent/never.onnx", 0, 0, dynamic=((64, 64), (128, 128), (250, 256)))
    check_exportable(dtpf, [(128, 192)])


def test_teacher_is_refused(tmp_path):
    teacher = create_model("edge_teacher")
    with pytest.raises(ExportError, match="teacher"):
        export_onnx(teacher, tmp_path / "t.onnx", H, W)
    assert not list(tmp_path.iterdir())


def test_old_opset_refused(nano, tmp_path):
    with pytest.raises(ConfigError, match="opset"):
        export_onnx(nano, tmp_path / "m.onnx", H, W, opset=13)


def test_failed_export_leaves_no_file(nano, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        open(args[2], "wb").write(b"half-written")  # the exporter died mid-write
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(ExportError, match="exporter crashed"):
        export_onnx(nano, tmp_path / "m.onnx", H, W)
    assert not list(tmp_path.iterdir())  # neither m.onnx nor a temporary file


def test_simplify_falls_back_and_keeps_graph(nano, tmp_path, monkeypatch):
    path = export_onnx(nano, tmp_path / "m.onnx", H, W)
    before = path.read_bytes()

    def broken(model):
        raise RuntimeError("tool crashed")

    monkeypatch.setitem(simplify_mod.TOOLS, "onnxsim", ("onnxsim", broken))
    monkeypatch.setitem(simplify_mod.TOOLS, "onnxslim", ("onnxslim", broken))
    used = simplify_onnx(path)
    assert used.startswith("none (onnxsim: tool crashed; onnxslim: tool crashed")
    assert path.read_bytes() == before


@pytest.mark.slow
def test_dtpf_student_dynamic_export_matches_torch(tmp_path):
    """DTPF student (4.4M parameters): dynamic H/W in multiples of 64, no op TensorRT 10 cannot parse."""
    from edgefuse.engines import inspect_onnx

    torch.manual_seed(0)
    dtpf = create_model("dtpf_student").eval()
    path = export_onnx(dtpf, tmp_path / "dtpf.onnx", 0, 0, dynamic=((64, 64), (64, 64), (128, 128)))
    report = inspect_onnx(path)
    assert report["unsupported"] == {} and report["restriction_issues"] == []
    sess = session(path)
    for h, w in [(64, 64), (128, 64), (128, 128)]:  # 128x64 was never traced
        feeds = _inputs(h, w, seed=h + w)
        assert np.abs(sess.run(None, feeds)[0] - _torch(dtpf, feeds)).max() <= 1e-4
