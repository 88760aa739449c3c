"""Lazy TensorRT import and the installed version (TensorRT is optional and absent on CPU machines)."""

from __future__ import annotations

import importlib.util
from typing import Any

from edgefuse.errors import BackendUnavailableError


def import_tensorrt() -> Any:
    """``tensorrt``, or a ``BackendUnavailableError`` naming the pip extra."""
    try:
        import tensorrt
    except ImportError as e:
        raise BackendUnavailableError(
            "TensorRT is not installed here: install it on the GPU machine (pip install 'edgefuse[trt]' "
            "or JetPack's python3-libnvinfer) and run the build there"
        ) from e
    return tensorrt


def tensorrt_version() -> str | None:
    """The installed TensorRT version string, or ``None`` when it cannot be imported."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    try:
        return str(import_tensorrt().__version__)
    except BackendUnavailableError:
        return None


def major(version: str) -> int:
    """'10.16.1.11' -> 10."""
    return int(version.split(".")[0])
