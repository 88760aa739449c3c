"""edgefuse: infrared/visible and medical image fusion, from DTPF distillation to edge engines.

``import edgefuse`` stays light (no torch); the API loads on first use::

    model = edgefuse.load("edge_nano_ivf")     # a shipped name, .safetensors, .onnx or .plan
    fused = model(vis, ir)                     # HxWx3 uint8 RGB + HxW uint8 -> HxWx3 uint8
"""

from __future__ import annotations

from typing import Any

from edgefuse._version import __version__

from edgefuse.errors import EdgefuseError

_API = ("Model", "bench", "evaluate", "export", "load", "stream")
__all__ = ["EdgefuseError", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from edgefuse import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgefuse' has no attribute {name!r}")
