"""Fusion methods by name: classical baselines, shipped models and checkpoint files.

A *fuser* maps a visible (colour-role) image, HxWx3 uint8 RGB, and an IR (grey-role) image,
HxW uint8, to a fused HxWx3 uint8 RGB image. ``create_fuser`` accepts

* a classical method (``average``, ``max``, ``laplacian``),
* the name of a model shipped in ``edgefuse/assets/models/`` (e.g. ``edge_nano_ivf``),
* a path to a checkpoint (``.safetensors`` with its ``.json`` card),
* an exported artefact: an ``.onnx`` file (ONNX Runtime) or a TensorRT ``.plan``.

Models and artefacts run through ``edgefuse.runtime.backends``, so every artefact fuses images the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgefuse.baselines import classical
from edgefuse.data.images import float_from_u8, u8_from_float
from edgefuse.errors import UnknownNameError, did_you_mean
from edgefuse.registry import Registry
from edgefuse.tiling import tiled_fuser

Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]
FloatFuse = Callable[[np.ndarray, np.ndarray], np.ndarray]

SHIPPED_DIR = Path(__file__).resolve().parent / "assets" / "models"

METHODS: Registry[Callable[[], Fuser]] = Registry("fusion method")


def _from_float(fn: FloatFuse) -> Callable[[], Fuser]:
    def factory() -> Fuser:
        def fuse(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
            return u8_from_float(fn(float_from_u8(vis), float_from_u8(ir)))

        return fuse

    return factory


METHODS.add("average", _from_float(classical.fuse_average), aliases=("avg", "mean"))
METHODS.add("max", _from_float(classical.fuse_max), aliases=("pixel_max",))
METHODS.add("laplacian", _from_float(classical.fuse_laplacian), aliases=("lp", "multiscale"))


def shipped_models() -> dict[str, Path]:
    """Weights shipped with the package, by name (file stem)."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.safetensors"))}


# The shipped IVF student is the default once it exists (model card in
# edgefuse/assets/models/); before that, the best classical method on VIF/Qabf.
DEFAULT_MODEL = "edge_nano_ivf"
DEFAULT_METHOD = DEFAULT_MODEL if DEFAULT_MODEL in shipped_models() else "max"


def method_names() -> list[str]:
    """Every name ``create_fuser`` accepts, classical first."""
    return METHODS.names() + list(shipped_models())


def _checkpoint_path(method: str) -> Path | None:
    shipped = shipped_models()
    if method in shipped:
        return shipped[method]
    p = Path(method)
    if p.suffix in (".safetensors", ".onnx", ".plan", ".engine") or p.exists():
        return p
    return None


def create_fuser(method: str = DEFAULT_METHOD, device: str | None = None, threads: int = 0) -> Fuser:
    """Return a fuser for a classical method, a shipped model name, a checkpoint or an artefact path.

    ``device`` is the backend's device (torch: cpu/cuda; ONNX Runtime: cpu/cuda/tensorrt;
    TensorRT: cuda); ``None`` is each backend's default.

    Raises:
        UnknownNameError: not a method, shipped model or existing checkpoint file.
        CheckpointError: the checkpoint cannot be loaded.
    """
    if method in METHODS:
        return METHODS.get(method)()
    path = _checkpoint_path(method)
    if path is None:
        names = method_names()
        raise UnknownNameError(
            f"unknown fusion method {method!r}.{did_you_mean(method, names)} Known: {', '.join(names)}, "
            "or a path to a .safetensors checkpoint, .onnx file or TensorRT .plan."
        )
    from edgefuse.runtime.backends import open_backend

    backend = open_backend(model=str(path), device=device, threads=threads).open()
    # large frames go through in overlapping tiles (bounded memory), sized to the model's rule
    return tiled_fuser(backend.fuse_u8, multiple=backend.size_multiple, static_hw=backend.static_hw)


def check_method(method: str) -> None:
    """Raise early (before any reading) if ``method`` cannot be resolved."""
    if method in METHODS or _checkpoint_path(method) is not None:
        return
    create_fuser(method)  # raises UnknownNameError with suggestions
