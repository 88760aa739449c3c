"""The backends: torch, ONNX Runtime and TensorRT behind one contract (see ``base.Backend``).

A backend runs what was loaded; :func:`edgefuse.runtime.open_backend` resolves a spec and picks
the backend (a ``.plan`` is TensorRT, an ``.onnx`` file ONNX Runtime, weights torch).
"""

from __future__ import annotations

from edgefuse.runtime.backends.base import Backend, TensorSpec

__all__ = ["Backend", "TensorSpec"]
