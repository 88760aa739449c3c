"""``edgefuse bench --engine`` on a real TensorRT plan (only where TensorRT and a CUDA GPU exist).

Builds an FP16 engine from the tiny exported student (32x48, static), benches it through the
CLI and checks what only the TensorRT backend reports: the host-to-device / compute /
device-to-host split and peak device memory; then a wrong size is refused clearly.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgefuse.bench import JSON_KEYS
from edgefuse.cli.main import cli

pytestmark = [pytest.mark.trt]  # no torch.cuda needed: the guard finds the GPU through cuda-python or pycuda


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    pytest.importorskip("tensorrt")
    from edgefuse.engines import EngineConfig, build_engine
    from edgefuse.export import ExportConfig, run_export
    from tests.bench.conftest import H, W

    root = tmp_path_factory.mktemp("trt_bench")
    # the FP16 engine comes from the FP16 graph: TensorRT >= 10.12 builds strongly typed, 11 only so
    report = run_export(ExportConfig(model="edge_nano_ivf", height=H, width=W, precision="fp16", parity_pairs=1,
                                     out=str(root / "export")))
    out = root / "nano_fp16.plan"
    return build_engine(report.artefacts["fp16"], EngineConfig(precision="fp16", output=str(out), workspace_mb=256))


def test_bench_engine_reports_transfers_and_device_memory(plan, tmp_path):
    out = tmp_path / "trt.json"
    r = CliRunner().invoke(cli, ["bench", "--engine", str(plan), "--iters", "20", "--warmup", "5",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert tuple(doc) == JSON_KEYS
    assert doc["backend"] == "tensorrt" and doc["precision"] == "fp16" and (doc["height"], doc["width"]) == (32, 48)
    assert {"h2d", "compute", "d2h"} <= set(doc["stages_ms"])
    assert doc["peak_device_mb"] is not None and doc["peak_device_mb"] > 0
    assert doc["versions"].get("tensorrt")
    assert "host-to-device" in r.stdout and "device-to-host" in r.stdout


def test_bench_engine_accuracy_against_torch(plan, samples):
    r = CliRunner().invoke(cli, ["bench", "--engine", str(plan), "--iters", "3", "--data", str(samples),
                                 "--accuracy-pairs", "1"])
    assert r.exit_code == 0, r.output
    assert "Accuracy    vs torch fp32" in r.stdout  # the plan's sidecar names the ONNX's checkpoint


def test_bench_engine_wrong_size(plan):
    r = CliRunner().invoke(cli, ["bench", "--engine", str(plan), "--height", "64", "--width", "64"])
    assert r.exit_code == 2 and "static input shape of 32x48" in r.stderr


def test_compare_engine_against_onnx(plan, tiny_onnx):
    r = CliRunner().invoke(cli, ["bench", "--compare", str(tiny_onnx), str(plan), "--iters", "5"])
    assert r.exit_code == 0, r.output
    assert "tensorrt" in r.stdout and "onnxruntime" in r.stdout and "speed-up" in r.stdout
