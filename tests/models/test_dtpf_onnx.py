"""Student ONNX export (opset 17) and onnxruntime parity with torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from edgefuse.models import DTPF
from tests.models.dtpf_helpers import pair

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.ort


@pytest.fixture(scope="module")
def student_onnx(student: DTPF, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "dtpf_student.onnx"
    vis, ir = pair(64, 64)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about the shape checks
        torch.onnx.export(
            student, (vis, ir), str(path), input_names=["vis", "ir"], output_names=["fused"],
            opset_version=17, dynamo=False,
        )
    return path


def test_student_onnx_graph(student_onnx: Path) -> None:
    model = onnx.load(str(student_onnx))
    assert [i.name for i in model.graph.input] == ["vis", "ir"]
    assert [o.name for o in model.graph.output] == ["fused"]
    ops = {node.op_type for node in model.graph.node}
    assert "LayerNormalization" in ops
    assert not ops & {"Col2Im", "Loop", "If"}


def test_student_onnxruntime_matches_torch(student: DTPF, student_onnx: Path) -> None:
    vis, ir = pair(64, 64)
    session = ort.InferenceSession(str(student_onnx), providers=["CPUExecutionProvider"])
    (fused,) = session.run(["fused"], {"vis": vis.numpy(), "ir": ir.numpy()})
    with torch.no_grad():
        expected = student(vis, ir).numpy()
    assert fused.shape == (1, 3, 64, 64)
    assert np.abs(fused - expected).max() < 1e-4
