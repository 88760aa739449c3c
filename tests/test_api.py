"""The Python API: the README's example runs as written, and the calls mirror the CLI's resolution."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import edgefuse
from edgefuse.errors import ConfigError, ShapeMismatchError, UnknownNameError
from tests.helpers import SAMPLES

REPO = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Python API"):]
    m = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert m, "README's Python API section has no python block"
    return m.group(1)


def test_readme_python_example_runs(tmp_path):
    res = subprocess.run([sys.executable, "-c", _readme_example()], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env={**__import__("os").environ, "EDGEFUSE_CACHE_DIR": str(tmp_path / "cache")})
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("(480, 640, 3) checkpoint onnxruntime"), lines
    vif = eval(lines[1])  # noqa: S307  - our own printed dict
    assert set(vif) == {"edge_nano_ivf", "max"} and all(0 < v < 3 for v in vif.values())
    assert lines[2].startswith("p50 ")


def test_import_is_light_and_api_is_lazy():
    code = "import sys, edgefuse; assert 'torch' not in sys.modules; edgefuse.load; print('ok')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_model_call_numpy_float_and_tensors():
    from edgefuse.data.pairs import find_pairs, load_pair

    pair = load_pair(find_pairs(SAMPLES / "ivf")[0])
    vis, ir = pair.vis[:61, :83], pair.ir[:61, :83]  # an odd size: padded and cropped back
    with edgefuse.load("edge_nano_ivf", fastest=False) as torch_model, edgefuse.load("edge_nano_ivf") as ort_model:
        assert torch_model.backend.name == "torch" and ort_model.backend.name == "onnxruntime"
        a, b = torch_model(vis, ir), ort_model(vis, ir)
        assert a.shape == (61, 83, 3) and a.dtype == np.uint8 and np.abs(a.astype(int) - b).max() <= 1
        f = torch_model(vis / 255.0, ir / 255.0)
        assert f.dtype == np.float32 and np.abs(f * 255 - a).max() <= 0.5 + 1e-3
        t = torch_model(torch.from_numpy(vis.transpose(2, 0, 1)[None] / 255.0).float(),
                        torch.from_numpy(ir[None, None] / 255.0).float())
        assert isinstance(t, torch.Tensor) and t.shape == (1, 3, 61, 83)
        with pytest.raises(ShapeMismatchError, match="same kind"):
            torch_model(vis, ir / 255.0)
        with pytest.raises(ShapeMismatchError, match="HxWx3"):
            torch_model(ir, vis)


def test_load_resolves_like_the_cli():
    with pytest.raises(ConfigError, match="architecture, not trained weights.*edge_nano_ivf"):
        edgefuse.load("edge_nano")
    with pytest.raises(UnknownNameError, match="Shipped models: edge_nano_ivf"):
        edgefuse.load("edge_nanoo")
    with edgefuse.load("edge_nano", random_weights=True) as m:
        assert m.artefact.kind == "architecture" and not m.artefact.trained and m.backend.name == "torch"


def test_export_from_the_api(tmp_path):
    pytest.importorskip("onnxruntime")
    with edgefuse.load("edge_nano_ivf", fastest=False) as m:
        report = m.export(out=str(tmp_path / "out"), precision="fp16", height=64, width=64, threads=1)
    assert set(report.artefacts) == {"fp32", "fp16"} and not report.failed_gates
    with edgefuse.load(str(report.artefacts["fp16"])) as onnx_model:
        assert onnx_model.artefact.kind == "onnx" and onnx_model.backend.name == "onnxruntime"
        assert onnx_model(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.uint8)).shape == (64, 64, 3)
