"""edgefuse inspect on ONNX files: I/O, precision per node, TensorRT 10 op support."""

from __future__ import annotations

import onnx
from click.testing import CliRunner
from onnx import TensorProto, helper

from edgefuse.cli.main import cli
from edgefuse.engines import inspect_onnx
from edgefuse.engines import onnx_support as sup
from edgefuse.export import export_onnx
from tests.export.conftest import H, W


def test_edge_nano_has_no_unsupported_ops(nano, tmp_path):
    path = export_onnx(nano, tmp_path / "n.onnx", H, W)
    r = inspect_onnx(path)
    assert r["unsupported"] == {} and r["restriction_issues"] == []
    assert [i["name"] for i in r["inputs"]] == ["vis", "ir"] and r["outputs"][0]["name"] == "fused"
    assert r["precision"] == {"fp32": len(r["nodes"])} or set(r["precision"]) <= {"fp32", "int/shape"}
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0 and "no unsupported ops" in result.output


def test_qdq_and_fp16_precisions_reported(int8_export):
    _, report, _ = int8_export
    r8 = inspect_onnx(report.artefacts["int8"])
    assert r8["precision_by_op"]["Conv"] == {"int8": r8["ops"]["Conv"]} and not r8["unsupported"]
    r16 = inspect_onnx(report.artefacts["fp16"])
    assert "fp16" in r16["precision"] and r16["precision_by_op"]["ReduceMean"] == {"fp32": 1}


def test_unsupported_op_and_restriction_flagged(tmp_path):
    nodes = [
        helper.make_node("Unique", ["x"], ["u"], name="uniq"),
        helper.make_node("Resize", ["x", "", "scales"], ["r"], name="cubic", mode="cubic"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("u", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
        [helper.make_tensor("scales", TensorProto.FLOAT, [1], [2.0])],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    r = inspect_onnx(path)
    assert r["unsupported"] == {"Unique": ["uniq"]}
    assert any("cubic" in issue for issue in r["restriction_issues"])
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 1 and "UNSUPPORTED by TensorRT 10.15: Unique" in result.output


def test_support_list_is_data_with_a_source():
    assert sup.TENSORRT_VERSION.startswith("10.") and "onnx-tensorrt" in sup.SOURCE
    assert {"Unique", "QLinearConv", "ConvInteger"} <= sup.UNSUPPORTED
    assert not {"Conv", "LayerNormalization", "Resize", "QuantizeLinear"} & sup.UNSUPPORTED
