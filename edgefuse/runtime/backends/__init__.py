"""One runtime contract over torch, ONNX Runtime and TensorRT (see ``base.Backend``).

``open_backend`` picks the implementation from the artefact: a ``.plan``/``.engine`` file is
TensorRT, an ``.onnx`` file is ONNX Runtime, anything else (a shipped model name, a
checkpoint, an architecture name, or nothing for the shipped default student) is torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgefuse.runtime.backends.base import Backend, TensorSpec
from edgefuse.errors import ConfigError, UnknownNameError, did_you_mean

BACKENDS = ("torch", "onnxruntime", "tensorrt")
_ALIASES = {"ort": "onnxruntime", "trt": "tensorrt", "pytorch": "torch"}
ENGINE_SUFFIXES = (".plan", ".engine", ".trt")


def backend_for(path: str | os.PathLike[str] | None) -> str:
    """The backend an artefact path implies."""
    if path is None:
        return "torch"
    suffix = Path(path).suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        return "tensorrt"
    if suffix == ".onnx":
        return "onnxruntime"
    return "torch"


def canonical_backend(name: str) -> str:
    n = _ALIASES.get(name.lower(), name.lower())
    if n not in BACKENDS:
        raise UnknownNameError(f"unknown backend {name!r}.{did_you_mean(name, BACKENDS)} Known: {', '.join(BACKENDS)}")
    return n


def open_backend(engine: str | os.PathLike[str] | None = None, onnx: str | os.PathLike[str] | None = None,
                 model: str | os.PathLike[str] | None = None, *, backend: str | None = None, device: str | None = None,
                 precision: str = "fp32", threads: int = 0, channels_last: bool = False,
                 cuda_graphs: bool = False, spin: bool = True) -> Backend:
    """A backend for at most one of ``engine``, ``onnx``, ``model`` (none: the shipped default student).

    Args:
        engine: TensorRT plan.
        onnx: ONNX file (ONNX Runtime).
        model: Shipped model name, checkpoint path or architecture (torch); an ``.onnx`` or
            ``.plan`` path here is routed to its backend.
        backend: Force a backend (``torch``, ``onnxruntime``/``ort``, ``tensorrt``/``trt``).
        device: ``cpu``/``cuda`` (torch), ``cpu``/``cuda``/``tensorrt`` (ONNX Runtime EP), ``cuda[:N]``
            (TensorRT; ``cpu`` is refused there rather than ignored).
        precision: torch only: ``fp32`` or ``fp16``; ONNX/TensorRT artefacts carry their own.
        threads: CPU threads (torch intra-op threads, ONNX Runtime intra-op threads).
        spin: ONNX Runtime only: let idle intra-op threads busy-wait (its default); off when
            other busy threads share the cores.

    Raises:
        ConfigError: more than one artefact, or a backend that does not fit the artefact.
        UnknownNameError: an unknown backend name.
    """
    given = [(k, v) for k, v in (("engine", engine), ("onnx", onnx), ("model", model)) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"pass one of --engine/--onnx/--model, not {' and '.join('--' + k for k, _ in given)}")
    artefact = given[0][1] if given else None
    implied = {"engine": "tensorrt", "onnx": "onnxruntime"}.get(given[0][0], None) if given else None
    implied = implied or backend_for(artefact)
    chosen = canonical_backend(backend) if backend else implied
    if chosen != implied:
        raise ConfigError(f"backend {chosen} cannot run {artefact or 'the shipped model'} (that needs {implied}); "
                          "export it first (edgefuse export) or drop --backend")
    if chosen == "tensorrt":
        from edgefuse.runtime.backends.trt_backend import TrtBackend

        return TrtBackend(str(artefact), device=device or "cuda")
    if chosen == "onnxruntime":
        from edgefuse.runtime.backends.ort_backend import OrtBackend

        return OrtBackend(str(artefact), device=device or "cpu", threads=threads, spin=spin)
    from edgefuse.runtime.backends.torch_backend import TorchBackend

    return TorchBackend(artefact, device=device or "cpu", precision=precision, channels_last=channels_last,
                        cuda_graphs=cuda_graphs, threads=threads)


__all__ = ["BACKENDS", "Backend", "TensorSpec", "backend_for", "canonical_backend", "open_backend"]
