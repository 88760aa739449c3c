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

import numpy as np

from edgefuse.baselines import classical
from edgefuse.data.images import float_from_u8, u8_from_float
from edgefuse.errors import UnknownNameError, did_you_mean
from edgefuse.registry import Registry
from edgefuse.runtime import DEFAULT_MODEL, Artefact, Backend, open_backend, resolve, shipped_models
from edgefuse.tiling import tiled_fuser

Fuser = Callable[[np.ndarray, np.ndarray], np.ndarray]
FloatFuse = Callable[[np.ndarray, np.ndarray], np.ndarray]

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


# The shipped IVF student is the default once it exists (model card in
# edgefuse/assets/models/); before that, the best classical method on VIF/Qabf.
DEFAULT_METHOD = DEFAULT_MODEL if DEFAULT_MODEL in shipped_models() else "max"


def method_names() -> list[str]:
    """Every name ``create_fuser`` accepts, classical first."""
    return METHODS.names() + list(shipped_models())


def open_model(spec: str | Artefact | None = None, *, engine: str | None = None, onnx: str | None = None,
               device: str | None = None, threads: int = 0, random_weights: bool = False, fastest: bool = True,
               spin: bool | None = None) -> Backend:
    """The backend for a model spec (none: the shipped default student), by the fastest path.

    With ``fastest`` (the default), trained weights on the CPU run through their ONNX export in
    ONNX Runtime where it is installed (exported once into a cache, ``edgefuse.runtime_cache``;
    2-3x faster than torch eager here); ``EDGEFUSE_BACKEND=torch`` or ``fastest=False`` keep torch.
    ``fuse``, ``eval``, ``stream`` and ``edgefuse.load`` take this one decision.

    Raises:
        the errors of :func:`edgefuse.runtime.resolve` and :func:`edgefuse.runtime.open_backend`.
    """
    if engine is not None or onnx is not None:
        ort = onnx is not None and engine is None and spec is None
        return open_backend(engine=engine, onnx=onnx, model=spec, device=device, threads=threads,
                            spin=spin if ort else None)
    art = spec if isinstance(spec, Artefact) else resolve(spec, random_weights=random_weights)
    if fastest and device in (None, "cpu") and art.kind == "checkpoint":
        from edgefuse.runtime_cache import cached_onnx

        cached = cached_onnx(art)
        if cached is not None:
            return open_backend(onnx=str(cached), threads=threads, spin=spin)
    return open_backend(model=art, device=device, threads=threads, spin=spin if art.backend == "onnxruntime" else None)


def _unknown(method: str) -> UnknownNameError:
    names = method_names()
    return UnknownNameError(
        f"unknown fusion method {method!r}.{did_you_mean(method, names)} Known: {', '.join(names)}, "
        "or a path to a .safetensors checkpoint, .onnx file or TensorRT .plan."
    )


def create_fuser(method: str = DEFAULT_METHOD, device: str | None = None, threads: int = 0, *,
                 random_weights: bool = False, fastest: bool = True) -> Fuser:
    """Return a fuser for a classical method, a shipped model name, a checkpoint or an artefact path.

    ``device`` is the backend's device (torch: cpu/cuda; ONNX Runtime: cpu/cuda/tensorrt;
    TensorRT: cuda); ``None`` is each backend's default. Models open through :func:`open_model`.

    Raises:
        UnknownNameError: not a method, shipped model or existing checkpoint file.
        ConfigError: an architecture name without ``random_weights``.
        CheckpointError: the checkpoint cannot be loaded.
    """
    if method in METHODS:
        return METHODS.get(method)()
    try:
        art = resolve(method, random_weights=random_weights)
    except UnknownNameError:
        raise _unknown(method) from None
    backend = open_model(art, device=device, threads=threads, fastest=fastest).open()
    # large frames go through in overlapping tiles (bounded memory), sized to the model's rule
    return tiled_fuser(backend.fuse_u8, multiple=backend.size_multiple, static_hw=backend.static_hw)


def check_method(method: str, random_weights: bool = False) -> Artefact | None:
    """Raise early (before any reading) if ``method`` cannot be resolved; the artefact (``None``: classical)."""
    if method in METHODS:
        return None
    try:
        return resolve(method, random_weights=random_weights)
    except UnknownNameError:
        raise _unknown(method) from None
