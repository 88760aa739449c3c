"""One resolver: a spec means the same in fuse, bench, export and stream (and in the Python API)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from edgefuse.cli.main import cli
from edgefuse.errors import ConfigError, DataError, UnknownNameError
from edgefuse.runtime import resolve, shipped_models

SHIPPED = "edge_nano_ivf"


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[str, str]:
    """A shipped name, a checkpoint outside the package, and an ONNX export of it."""
    pytest.importorskip("onnxruntime")
    tmp = tmp_path_factory.mktemp("specs")
    src = shipped_models()[SHIPPED]
    ckpt = tmp / "mine.safetensors"
    shutil.copyfile(src, ckpt)
    shutil.copyfile(src.with_suffix(".json"), ckpt.with_suffix(".json"))
    res = CliRunner().invoke(cli, ["export", "--model", str(ckpt), "--height", "32", "--width", "32",
                                   "--precision", "fp32", "--out", str(tmp / "onnx"), "--threads", "1"])
    assert res.exit_code == 0, res.output
    return {"shipped": SHIPPED, "checkpoint": str(ckpt), "onnx": str(next((tmp / "onnx").glob("*.onnx")))}


def _model_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("model ")]
    assert lines, output[-2000:]
    return lines[0]


@pytest.mark.parametrize("kind", ["shipped", "checkpoint", "onnx"])
def test_same_spec_same_resolution_in_every_command(kind, specs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEFUSE_CACHE_DIR", str(tmp_path / "cache"))
    spec = specs[kind]
    runner = CliRunner()
    runs = {
        "fuse": ["fuse", "--sample", "ivf", "-o", str(tmp_path / "fused"), "-m", spec],
        "bench": ["bench", "--model", spec, "--iters", "1", "--warmup", "0", "--threads", "1"]
                 + ([] if kind == "onnx" else ["--height", "32", "--width", "32"]),
        "export": ["export", "--model", spec, "--height", "32", "--width", "32", "--precision", "fp32",
                   "--out", str(tmp_path / "exp"), "--threads", "1"],
        "stream": ["stream", "--ir", "synthetic://ir?size=32x32", "--vis", "synthetic://vis?size=32x32",
                   "--model", spec, "--max-frames", "1"],
    }
    lines = {}
    for name, args in runs.items():
        res = runner.invoke(cli, args)
        if kind == "onnx" and name == "export":  # an exported file is not exported again: refused, one line
            assert res.exit_code == 2 and res.output.strip().splitlines() == [
                f"error: {spec} is already an exported onnx file; export takes weights (a shipped name, a "
                ".safetensors checkpoint, or an architecture with --random-weights)"], res.output
            continue
        assert res.exit_code == 0, f"{name}: {res.output[-2000:]}"
        lines[name] = _model_line(res.output)
    assert len(set(lines.values())) == 1, lines
    art = resolve(spec)
    assert lines["fuse"] == art.summary() and art.kind == ("onnx" if kind == "onnx" else "checkpoint")


@pytest.mark.parametrize("command", [
    ["fuse", "--sample", "ivf", "-o", "OUT", "-m", "edge_nano"],
    ["bench", "--model", "edge_nano", "--iters", "1"],
    ["export", "--model", "edge_nano", "--out", "OUT"],
    ["stream", "--ir", "synthetic://ir", "--vis", "synthetic://vis", "--model", "edge_nano", "--max-frames", "1"],
])
def test_architecture_without_random_weights_is_refused_everywhere(command, tmp_path):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    msg = res.output.strip().splitlines()[-1]
    assert "architecture, not trained weights" in msg and "edge_nano_ivf" in msg and "--random-weights" in msg
    assert not (tmp_path / "out").exists()  # nothing written


def test_random_weights_when_asked(tmp_path):
    res = CliRunner().invoke(cli, ["bench", "--model", "edge_nano", "--random-weights", "--iters", "1",
                                   "--warmup", "0", "--height", "32", "--width", "32"])
    assert res.exit_code == 0, res.output
    assert _model_line(res.output) == "model edge_nano: architecture edge_nano (edge_nano, random weights)"


def test_resolve_errors(tmp_path):
    with pytest.raises(DataError, match="ONNX file not found"):
        resolve(tmp_path / "none.onnx")
    with pytest.raises(DataError, match="TensorRT engine not found"):
        resolve(tmp_path / "none.plan")
    pickle = tmp_path / "w.pt"
    pickle.write_bytes(b"x")
    with pytest.raises(ConfigError, match="pickle"):
        resolve(pickle)
    with pytest.raises(UnknownNameError, match="did you mean 'edge_nano_ivf'|Did you mean 'edge_nano_ivf'"):
        resolve("edge_nano_iv")
    assert resolve(None).name == SHIPPED and resolve(None).shipped
    for suffix in (".plan", ".engine", ".trt"):  # every engine suffix means TensorRT, in every command
        (tmp_path / f"e{suffix}").write_bytes(b"plan")
        with pytest.raises(Exception, match="no sidecar"):
            resolve(tmp_path / f"e{suffix}")
