"""The library side: ``benchmark`` on a backend object, the fixed-text teacher wrapper, matrix model weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgefuse.runtime.backends.torch_backend import TorchBackend
from edgefuse.bench import JSON_KEYS, BenchConfig, benchmark
from edgefuse.bench.benchmark import make_frames
from edgefuse.bench.models import bench_model, timing_spec
from edgefuse.errors import ConfigError
from edgefuse.text.conditioning import FixedTextTeacher
from edgefuse.models import create_model


@pytest.fixture(scope="module")
def tiny_teacher() -> FixedTextTeacher:
    torch.manual_seed(0)
    teacher = create_model("dtpf_teacher", dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1, text_dim=16)
    return FixedTextTeacher(teacher.eval(), seed=3).eval()


def test_fixed_text_teacher_runs_through_the_torch_backend(tiny_teacher):
    assert tiny_teacher.size_multiple == 64 and tiny_teacher.text.shape == (1, 16)
    assert float(tiny_teacher.text.norm()) == pytest.approx(1.0)
    result = benchmark(TorchBackend(tiny_teacher, threads=1), BenchConfig(iters=2, warmup=0, height=64, width=64))
    assert tuple(result) == JSON_KEYS and result["iters"] == 2 and result["backend"] == "torch"
    assert result["artefact"] == "FixedTextTeacher"


def test_fixed_text_teacher_exports_with_the_embedding_folded_in(tiny_teacher, tmp_path):
    pytest.importorskip("onnxruntime")
    from edgefuse.runtime.backends.ort_backend import OrtBackend
    from edgefuse.export import export_onnx

    path = export_onnx(tiny_teacher, tmp_path / "teacher.onnx", 64, 64)
    vis, ir = np.random.default_rng(0).random((1, 3, 64, 64), np.float32), np.zeros((1, 1, 64, 64), np.float32)
    with OrtBackend(path, threads=1) as be:
        got = be.infer(vis, ir)
    with torch.no_grad():
        want = tiny_teacher(torch.from_numpy(vis), torch.from_numpy(ir)).numpy()
    assert np.abs(got - want).max() < 1e-3


def test_bench_model_weights():
    _, nano = bench_model(*timing_spec("edge_nano"))
    assert nano.startswith("trained (edge_nano_ivf")
    assert timing_spec("edge_small") == ("edge_small", True)
    small, how = bench_model("edge_small", random_weights=True)
    assert how.startswith("random") and not hasattr(small, "text")
    with pytest.raises(ConfigError, match="--random-weights"):
        bench_model("edge_small")
    teacher, _ = bench_model("edge_teacher_ivf")
    assert teacher(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)).shape == (1, 3, 32, 32)  # fixed text inside


def test_frames_are_padded_to_the_fed_size():
    frames = make_frames(BenchConfig(batch=2), (40, 56), (64, 64))
    vis, ir = frames[0]
    assert vis.shape == (2, 3, 64, 64) and ir.shape == (2, 1, 64, 64) and vis.dtype == np.float32
    assert np.array_equal(vis[..., :40, :56], make_frames(BenchConfig(batch=2), (40, 56), (40, 56))[0][0])


def test_frames_from_data_cycle_pairs(samples):
    frames = make_frames(BenchConfig(batch=1, data=str(samples)), (32, 48), (32, 48))
    assert len(frames) == 2 and all(v.shape == (1, 3, 32, 48) and 0 <= v.min() <= v.max() <= 1 for v, _ in frames)
