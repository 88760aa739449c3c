"""Tiny artefacts for the bench tests: the shipped student exported at 32x48, with and without a sidecar."""

from __future__ import annotations

from pathlib import Path

import pytest

H, W = 32, 48
SAMPLES = Path(__file__).resolve().parents[2] / "edgefuse" / "assets" / "samples" / "ivf"


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """``edge_nano_ivf.onnx`` (static 32x48, FP32) from ``run_export``, sidecar naming the checkpoint."""
    pytest.importorskip("onnxruntime")
    from edgefuse.export import ExportConfig, run_export

    out = tmp_path_factory.mktemp("bench_export")
    report = run_export(ExportConfig(model="edge_nano_ivf", height=H, width=W, precision="fp32", parity_pairs=1,
                                     out=str(out)))
    return report.artefacts["fp32"]


@pytest.fixture(scope="session")
def bare_onnx(tmp_path_factory) -> Path:
    """A random-weight edge_nano ONNX without a sidecar (no checkpoint to compare with)."""
    import torch

    from edgefuse.export import export_onnx
    from edgefuse.models import create_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bench_bare") / "nano_random.onnx"
    return export_onnx(create_model("edge_nano"), path, H, W)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
