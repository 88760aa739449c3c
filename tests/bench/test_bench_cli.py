"""``edgefuse bench`` end to end on a tiny exported student (32x48): report, JSON, accuracy, compare, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgefuse.bench import JSON_KEYS
from edgefuse.cli.main import cli

pytestmark = pytest.mark.ort


def bench(*args: str):
    return CliRunner().invoke(cli, ["bench", *args])


def test_onnx_json_keys_exact(tiny_onnx, tmp_path):
    out = tmp_path / "sub" / "out.json"
    r = bench("--onnx", str(tiny_onnx), "--iters", "5", "--warmup", "1", "--threads", "1", "--json", str(out))
    assert r.exit_code == 0, r.output
    for word in ("Throughput", "Latency     p50 =", "p90 =", "p99 =", "Stages", "compute", "peak host RSS",
                 "onnxruntime"):
        assert word in r.stdout
    doc = json.loads(out.read_text())
    assert tuple(doc) == JSON_KEYS  # stable, documented key set (no accuracy without --data)
    assert set(doc["latency_ms"]) == {"p50", "p90", "p99", "mean", "std", "min", "max"}
    assert doc["backend"] == "onnxruntime" and doc["precision"] == "fp32" and doc["device"] == "cpu"
    assert (doc["height"], doc["width"], doc["batch"], doc["iters"]) == (32, 48, 1, 5)
    assert doc["peak_device_mb"] is None and doc["peak_rss_mb"] > 0 and doc["throughput_fps"] > 0
    assert set(doc["stages_ms"]) == {"compute"}
    lat = doc["latency_ms"]
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]


def test_data_adds_accuracy_against_torch_fp32(tiny_onnx, samples, tmp_path):
    out = tmp_path / "acc.json"
    r = bench("--onnx", str(tiny_onnx), "--iters", "3", "--warmup", "1", "--data", str(samples),
              "--accuracy-pairs", "1", "--json", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert tuple(doc) == (*JSON_KEYS, "accuracy")
    a = doc["accuracy"]
    assert a["available"] and a["pairs"] == 1 and a["psnr_db_mean"] >= 60 and a["ssim_mean"] > 0.999
    assert "edge_nano_ivf.safetensors" in a["reference"]
    assert doc["input"]["source"] == str(samples)
    assert "Accuracy    vs torch fp32" in r.stdout


def test_accuracy_unavailable_without_checkpoint(bare_onnx, samples):
    r = bench("--onnx", str(bare_onnx), "--iters", "2", "--warmup", "0", "--data", str(samples),
              "--accuracy-pairs", "1")
    assert r.exit_code == 0, r.output
    assert "Accuracy    unavailable: no sidecar" in r.stdout


def test_model_torch_and_seconds():
    r = bench("--model", "edge_nano_ivf", "--height", "32", "--width", "48", "--seconds", "0.2", "--warmup", "1",
              "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "torch on cpu" in r.stdout and "pre-process" in r.stdout and "post-process" in r.stdout


def test_compare_table_and_json(tiny_onnx, bare_onnx, tmp_path):
    out = tmp_path / "cmp.json"
    r = bench("--compare", str(tiny_onnx), str(bare_onnx), "--iters", "3", "--warmup", "1", "--json", str(out))
    assert r.exit_code == 0, r.output
    assert "speed-up" in r.stdout and "1.00x" in r.stdout and "32x48" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["baseline"] == str(tiny_onnx) and len(doc["results"]) == 2 and doc["speedup"][0] == 1.0
    assert [x["name"] for x in doc["results"]] == [str(tiny_onnx), str(bare_onnx)]
    assert all(tuple(x)[1:] == JSON_KEYS for x in doc["results"])


def test_compare_takes_the_static_size_for_torch_entries(tiny_onnx):
    r = bench("--compare", "edge_nano_ivf", str(tiny_onnx), "--iters", "2", "--warmup", "0", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "32x48" in r.stdout and "torch" in r.stdout and "onnxruntime" in r.stdout


def test_compare_refuses_a_backend_that_cannot_run_an_entry(tiny_onnx, bare_onnx):
    """A forced --backend was dropped for every entry before; now it is checked before anything runs."""
    r = bench("--compare", "edge_nano_ivf", str(tiny_onnx), "--backend", "ort", "--iters", "2")
    assert r.exit_code == 2 and "--backend onnxruntime cannot run edge_nano_ivf" in r.output
    assert "p50" not in r.output and len(r.output.strip().splitlines()) == 1
    r = bench("--compare", str(tiny_onnx), str(bare_onnx), "--backend", "ort", "--iters", "2", "--warmup", "0")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("onnxruntime") >= 2


@pytest.mark.parametrize("args, needle", [
    (["--onnx", "missing.onnx"], "ONNX file not found: missing.onnx"),
    (["--engine", "missing.plan"], "engine not found: missing.plan"),
    (["--model", "no_such_model"], "no_such_model"),
    (["--iters", "0"], "--iters must be at least 1"),
    (["--iters", "-3"], "--iters must be at least 1"),
    (["--seconds", "0"], "--seconds must be positive"),
    (["--iters", "5", "--seconds", "1"], "not both"),
    (["--backend", "tensorflow"], "unknown backend 'tensorflow'. Did you mean 'tensorrt'?"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["a.onnx", "b.onnx"], "pass --compare"),
    (["--compare", "a.onnx"], "at least two"),
])
def test_bad_input_is_one_clear_line(args, needle):
    r = bench(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.output


def test_corrupt_onnx(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 this is not a protobuf" * 10)
    r = bench("--onnx", str(bad))
    assert r.exit_code == 2 and "is not a loadable ONNX model" in r.stderr


def test_wrong_size_for_static_graph_names_its_size(tiny_onnx):
    r = bench("--onnx", str(tiny_onnx), "--height", "64", "--width", "48")
    assert r.exit_code == 2
    assert "static input shape of 32x48" in r.stderr and "--height 32 --width 48" in r.stderr


def test_precision_only_for_torch(tiny_onnx):
    r = bench("--onnx", str(tiny_onnx), "--precision", "fp16")
    assert r.exit_code == 2 and "--precision applies to torch models only" in r.stderr
