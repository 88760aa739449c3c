"""Fixtures for the export tests: a randomised edge_nano, its checkpoint, tiny pair folders, one export run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from edgefuse.models import create_model
from edgefuse.models.checkpoint import save_checkpoint
from tests.helpers import write_pair_dataset

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

H, W = 32, 48

# The FP16 pass uses onnxconverter-common from the `export` extra.
requires_fp16 = pytest.mark.skipif(
    importlib.util.find_spec("onnxconverter_common") is None, reason="onnxconverter-common (export extra) not installed"
)


def randomised_nano(seed: int = 0) -> nn.Module:
    """edge_nano with every layer random (its head and residual output start at zero)."""
    torch.manual_seed(seed)
    model = create_model("edge_nano")
    with torch.no_grad():
        for m in (model.head, model.residual[2]):
            m.weight.normal_(0, 0.2)
            m.bias.normal_(0, 0.1)
    return model.eval()


@pytest.fixture(scope="session")
def nano() -> nn.Module:
    return randomised_nano()


@pytest.fixture(scope="session")
def nano_ckpt(tmp_path_factory: pytest.TempPathFactory, nano: nn.Module) -> Path:
    return save_checkpoint(nano, tmp_path_factory.mktemp("ckpt") / "nano.safetensors", "edge_nano")


@pytest.fixture(scope="session")
def calib_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten synthetic 40x56 pairs (ir/ + vi/) in a train-like folder."""
    return write_pair_dataset(tmp_path_factory.mktemp("calib") / "train", [f"p{i:02d}" for i in range(10)])


@pytest.fixture(scope="session")
def int8_export(tmp_path_factory: pytest.TempPathFactory, nano_ckpt: Path, calib_dir: Path):
    """One full INT8 export (fp32 + fp16 + int8, parity, sidecars) shared by several tests."""
    from edgefuse.export import ExportConfig, run_export

    pytest.importorskip("onnxconverter_common", reason="the FP16 pass needs the export extra")
    out = tmp_path_factory.mktemp("export")
    cfg = ExportConfig(weights=str(nano_ckpt), height=H, width=W, precision="int8", calib=str(calib_dir),
                       calib_samples=8, parity_pairs=2, out=str(out), threads=1)
    stages = []
    report = run_export(cfg, on_stage=stages.append)
    return cfg, report, stages
