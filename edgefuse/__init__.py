"""edgefuse: infrared/visible and medical image fusion, from DTPF distillation to edge engines."""

from __future__ import annotations

__version__ = "0.1.0"

from edgefuse.errors import EdgefuseError

__all__ = ["EdgefuseError", "__version__"]
