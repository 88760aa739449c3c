"""Shared pytest setup: markers that skip without hardware, paths to the shared data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")
    parser.addoption("--camera", action="store_true", help="run tests that need a camera")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {
        "slow": (not config.getoption("--runslow"), "needs --runslow"),
        "camera": (not config.getoption("--camera"), "needs --camera"),
        "trt": (importlib.util.find_spec("tensorrt") is None, "TensorRT is not installed"),
        "ort": (importlib.util.find_spec("onnxruntime") is None, "onnxruntime is not installed"),
        "gpu": (not _cuda_available(), "no CUDA GPU"),
    }
    for item in items:
        for marker, (skip, why) in skips.items():
            if skip and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; tests needing it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
