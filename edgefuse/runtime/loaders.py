"""Loading: from a resolved artefact to a backend, with each backend's own options and nothing else.

As in Polygraphy's loader/runner split, a *loader* holds what it takes to load one kind of
artefact (for torch: which weights, the text mode of a teacher, the seed of random weights), and
the backend takes what was loaded and owns only what it builds (device copies, sessions, graphs).
:func:`open_backend` is the one entry point: it resolves the spec (``runtime.artefacts.resolve``),
checks that the options given apply to the backend that runs the artefact, and returns the backend
(not opened yet).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from edgefuse.errors import ConfigError, UnknownNameError, did_you_mean
from edgefuse.runtime.artefacts import Artefact, resolve
from edgefuse.runtime.backends.base import Backend

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime", "tensorrt")
_ALIASES = {"ort": "onnxruntime", "trt": "tensorrt", "pytorch": "torch"}
TEXT_MODES = ("prior", "fixed", "raw")


def canonical_backend(name: str) -> str:
    n = _ALIASES.get(name.lower(), name.lower())
    if n not in BACKENDS:
        raise UnknownNameError(f"unknown backend {name!r}.{did_you_mean(name, BACKENDS)} Known: {', '.join(BACKENDS)}")
    return n


@dataclass
class LoadedModule:
    """A torch fusion module ready to run ``(vis, ir) -> fused``, and where it came from."""

    module: Any
    name: str
    checkpoint: str | None
    card: dict[str, Any] | None
    trained: bool


@dataclass(frozen=True)
class TorchLoader:
    """Loads the torch module of a checkpoint or (random weights) an architecture.

    A text-guided teacher comes wrapped so that it has the ``(vis, ir)`` contract of every other
    model (``edgefuse.text.conditioning``): ``text="prior"`` annotates each pair and encodes its
    prompt with the text encoder of the teacher's card, as in its training; ``text="fixed"`` feeds
    one seeded embedding (timing: the text encoder is not part of the network); ``text="raw"``
    leaves the network as it is (export, which refuses teachers: they are not deployed).
    """

    artefact: Artefact
    text: str = "prior"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.text not in TEXT_MODES:
            raise ConfigError(f"text mode {self.text!r} is not one of {', '.join(TEXT_MODES)}")
        if self.artefact.backend != "torch":
            raise ConfigError(f"{self.artefact.spec} is run by {self.artefact.backend}, not torch")

    def __call__(self) -> LoadedModule:
        import torch

        from edgefuse.models import create_model
        from edgefuse.models.checkpoint import load_checkpoint
        from edgefuse.text.conditioning import FixedTextTeacher, PriorTextTeacher

        art = self.artefact
        card = None
        if art.kind == "checkpoint":
            assert art.path is not None
            module, card = load_checkpoint(art.path)
        else:
            torch.manual_seed(self.seed)
            logger.warning("%s: architecture with random weights (--random-weights); fine for timing, not for images",
                           art.name)
            module = create_model(art.name).eval()
        if module.text_dim and self.text != "raw":
            if self.text == "fixed":
                module = FixedTextTeacher(module, self.seed)
            elif card is None:
                raise ConfigError(f"{art.name} is a text-guided teacher: with random weights it has no text encoder "
                                  "to feed it; load a trained checkpoint, or time it with a fixed text (bench does)")
            else:
                module = PriorTextTeacher(module, card)
        return LoadedModule(module.eval(), art.name, str(art.path) if art.path else None, card, art.trained)


def open_backend(engine: str | os.PathLike[str] | None = None, onnx: str | os.PathLike[str] | None = None,
                 model: str | os.PathLike[str] | Artefact | None = None, *, backend: str | None = None,
                 device: str | None = None, precision: str | None = None, threads: int = 0,
                 channels_last: bool = False, cuda_graphs: bool = False, spin: bool | None = None,
                 random_weights: bool = False, text: str = "prior", seed: int = 0) -> Backend:
    """A backend for at most one of ``engine``, ``onnx``, ``model`` (none: the shipped default student).

    Args:
        engine: TensorRT plan.
        onnx: ONNX file (ONNX Runtime).
        model: Any spec :func:`~edgefuse.runtime.artefacts.resolve` takes (shipped name, checkpoint,
            ``.onnx``, ``.plan``; an architecture with ``random_weights``), or a resolved artefact.
        backend: Insist on a backend (``torch``, ``onnxruntime``/``ort``, ``tensorrt``/``trt``): an
            artefact that another backend runs is refused, not converted.
        device: ``cpu``/``cuda`` (torch), ``cpu``/``cuda``/``tensorrt`` (ONNX Runtime EP), ``cuda[:N]`` (TensorRT).
        precision: torch only: ``fp32`` or ``fp16`` (ONNX files and plans carry their own).
        threads: CPU threads (torch intra-op, ONNX Runtime intra-op; not TensorRT).
        channels_last, cuda_graphs: torch only.
        spin: ONNX Runtime only: let idle intra-op threads busy-wait (its default, on).
        random_weights: Allow an architecture name (seeded random weights, for timing).
        text, seed: torch only: a teacher's text mode (:class:`TorchLoader`) and the seed of random weights.

    Raises:
        ConfigError: more than one artefact, an option of another backend, or a backend that does not fit.
        UnknownNameError, DataError, CheckpointError: the spec does not resolve (see ``resolve``).
    """
    given = [(k, v) for k, v in (("engine", engine), ("onnx", onnx), ("model", model)) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"pass one of --engine/--onnx/--model, not {' and '.join('--' + k for k, _ in given)}")
    flag, spec = given[0] if given else ("model", None)
    art = spec if isinstance(spec, Artefact) else resolve(spec, random_weights=random_weights)
    if flag == "engine" and art.kind != "engine":
        raise ConfigError(f"--engine takes a TensorRT plan (.plan/.engine/.trt), not {art.spec}")
    if flag == "onnx" and art.kind != "onnx":
        raise ConfigError(f"--onnx takes an .onnx file, not {art.spec}")
    chosen = canonical_backend(backend) if backend else art.backend
    if chosen != art.backend:
        raise ConfigError(f"backend {chosen} cannot run {art.spec} (that needs {art.backend}); "
                          "export it first (edgefuse export) or drop --backend")
    foreign = [name for name, applies, value in (
        ("--precision", "torch", precision not in (None, "fp32")), ("--channels-last", "torch", channels_last),
        ("--cuda-graphs", "torch", cuda_graphs), ("--spin", "onnxruntime", spin is not None),
        ("--threads", "torch/onnxruntime", bool(threads) and chosen == "tensorrt")) if value and chosen not in applies]
    if foreign:
        extra = " (an ONNX file or plan carries its own precision)" if "--precision" in foreign else ""
        raise ConfigError(f"{', '.join(foreign)} do not apply to the {chosen} backend that runs {art.spec}{extra}")
    if chosen == "tensorrt":
        from edgefuse.runtime.backends.trt_backend import TrtBackend

        return TrtBackend(str(art.path), device=device or "cuda")
    if chosen == "onnxruntime":
        from edgefuse.runtime.backends.ort_backend import OrtBackend

        return OrtBackend(str(art.path), device=device or "cpu", threads=threads, spin=True if spin is None else spin)
    from edgefuse.runtime.backends.torch_backend import TorchBackend

    return TorchBackend(TorchLoader(art, text=text, seed=seed), device=device or "cpu", precision=precision or "fp32",
                        channels_last=channels_last, cuda_graphs=cuda_graphs, threads=threads)


def backend_for(path: str | os.PathLike[str] | None) -> str:
    """The backend a file name implies (``torch`` for anything that is not an ONNX file or a plan)."""
    from edgefuse.runtime.artefacts import BACKEND_OF, kind_of_path

    kind = kind_of_path(path) if path is not None else None
    return BACKEND_OF.get(kind or "checkpoint", "torch")
