"""FP16 graphs: FP32 I/O, fragile ops and measured outliers kept in FP32, ORT parity."""

from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from edgefuse.export import KEEP_FP32_OPS, convert_fp16, export_onnx
from edgefuse.export._ort import session
from tests.export.conftest import H, W, requires_fp16

pytestmark = requires_fp16


class Fragile(nn.Module):
    """A toy fusion model with LayerNorm, softmax, an L2 normalisation and one huge activation."""

    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4)
        self.conv = nn.Conv2d(4, 3, 1)

    def forward(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        x = torch.cat([vis, ir], 1)
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x = x * torch.softmax(x, dim=-1) + F.normalize(x, dim=1)
        big = self.conv(x) * 1e5  # beyond FP16's comfortable range
        return torch.sigmoid(big / 1e5)


def _types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    return {vi.name: vi.type.tensor_type.elem_type
            for vi in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}


def _feeds(seed: int = 0):
    rng = np.random.default_rng(seed)
    return {"vis": rng.random((1, 3, H, W), dtype=np.float32), "ir": rng.random((1, 1, H, W), dtype=np.float32)}


def test_fp16_keeps_fragile_ops_fp32_with_fp32_io(tmp_path):
    torch.manual_seed(0)
    src = export_onnx(Fragile().eval(), tmp_path / "f.onnx", H, W)
    res = convert_fp16(src, tmp_path / "f_fp16.onnx", feeds=[_feeds()])
    m16 = onnx.load(str(res.path))
    fp32 = onnx.TensorProto.FLOAT
    assert all(t.type.tensor_type.elem_type == fp32 for t in (*m16.graph.input, *m16.graph.output))
    types = _types(m16)
    fragile = [n for n in m16.graph.node if n.op_type in KEEP_FP32_OPS]
    assert {"LayerNormalization", "Softmax"} <= {n.op_type for n in fragile}
    for node in fragile:
        assert all(types.get(t, fp32) == fp32 for t in node.input if t), node.name
        assert all(types.get(t, fp32) == fp32 for t in node.output), node.name
    divs = [n for n in m16.graph.node if n.op_type == "Div"]
    assert any(n.name in res.kept_nodes and res.kept_nodes[n.name].startswith("Div by a norm") for n in divs)
    assert any("reaches" in why for why in res.kept_nodes.values())  # the 1e5 activation was measured
    a = session(src).run(None, _feeds(1))[0]
    b = session(res.path).run(None, _feeds(1))[0]
    assert np.isfinite(b).all() and np.abs(a - b).max() < 5e-3


def test_fp16_edge_nano_reduce_mean_stays_fp32(nano, tmp_path):
    src = export_onnx(nano, tmp_path / "n.onnx", H, W)
    res = convert_fp16(src, tmp_path / "n_fp16.onnx")
    m16 = onnx.load(str(res.path))
    types = _types(m16)
    reduce = [n for n in m16.graph.node if n.op_type == "ReduceMean"]
    assert reduce and all(types[n.input[0]] == onnx.TensorProto.FLOAT for n in reduce)
    convs = [n for n in m16.graph.node if n.op_type == "Conv"]
    assert sum(types.get(n.output[0]) == onnx.TensorProto.FLOAT16 for n in convs) >= len(convs) - 1
    a = session(src).run(None, _feeds())[0]
    b = session(res.path).run(None, _feeds())[0]
    assert np.abs(a - b).max() < 5e-3


class Masked(nn.Module):
    """A bool mask cast to float inside the graph (``(x < mean).to(x.dtype)``)."""

    size_multiple = 1

    def forward(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        mask = (ir < ir.mean(dim=(2, 3), keepdim=True)).to(ir.dtype)
        return vis * (0.5 + 0.5 * mask)


def test_fp16_graph_with_a_cast_to_float_loads_and_matches(tmp_path):
    src = export_onnx(Masked().eval(), tmp_path / "m.onnx", H, W)
    assert any(n.op_type == "Cast" for n in onnx.load(str(src)).graph.node)
    res = convert_fp16(src, tmp_path / "m_fp16.onnx")
    a = session(src).run(None, _feeds(2))[0]
    b = session(res.path).run(None, _feeds(2))[0]  # loading failed before: Cast typed FP16, target FP32
    assert np.abs(a - b).max() < 5e-3
