"""Artefact identity: the catalogue of shipped models and the one ``resolve(spec)`` for every command.

A *spec* is what a user types after ``-m``/``--model``/``--onnx``/``--engine`` or passes to
``edgefuse.load``: the name of a shipped model (``edge_nano_ivf``), a checkpoint
(``run/model.safetensors`` with its ``.json`` card), an ONNX file, a TensorRT plan, or (only with
``random_weights=True``) a registered architecture, which then runs with seeded random weights, for
timing and trying the toolchain. ``None`` is the shipped default student. ``fuse``, ``eval``,
``bench``, ``export``, ``stream`` and the Python API all call :func:`resolve`, so one spec means
one thing everywhere.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefuse.errors import CheckpointError, ConfigError, DataError, UnknownNameError, did_you_mean
from edgefuse.runtime.sidecars import ENGINE_SUFFIXES, read_sidecar

DEFAULT_MODEL = "edge_nano_ivf"
CHECKPOINT_SUFFIX = ".safetensors"
KINDS = ("checkpoint", "onnx", "engine", "architecture")
BACKEND_OF = {"checkpoint": "torch", "architecture": "torch", "onnx": "onnxruntime", "engine": "tensorrt"}
# files edgefuse never loads: pickles run code when they are read
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")


def shipped_dir() -> Path:
    """The folder of the weights shipped inside the installed package."""
    return Path(str(importlib.resources.files("edgefuse") / "assets" / "models"))


def shipped_models() -> dict[str, Path]:
    """Weights shipped with the package, by name (file stem)."""
    d = shipped_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.glob(f"*{CHECKPOINT_SUFFIX}"))}


def architectures() -> list[str]:
    from edgefuse.models import MODELS

    return MODELS.names()


def kind_of_path(path: str | os.PathLike[str]) -> str | None:
    """``checkpoint``/``onnx``/``engine`` from a file name, ``None`` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix == CHECKPOINT_SUFFIX:
        return "checkpoint"
    if suffix == ".onnx":
        return "onnx"
    if suffix in ENGINE_SUFFIXES:
        return "engine"
    return None


@dataclass(frozen=True)
class Artefact:
    """What a spec names: its kind, file, display name and, for weights, the architecture.

    ``card`` is the model card of a checkpoint, ``sidecar`` the JSON beside an ONNX file or plan
    (``None`` when it has none).
    """

    spec: str
    kind: str
    name: str
    path: Path | None = None
    architecture: str | None = None
    shipped: bool = False
    card: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    sidecar: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def backend(self) -> str:
        """The backend that runs it: ``torch``, ``onnxruntime`` or ``tensorrt``."""
        return BACKEND_OF[self.kind]

    @property
    def trained(self) -> bool:
        return self.kind != "architecture"

    @property
    def text_guided(self) -> bool:
        """A teacher that takes a text prior (from its card's training record)."""
        return bool(self.card and (self.card.get("config") or {}).get("text_dim")) or bool(
            self.card and (self.card.get("training") or {}).get("mode") == "teacher")

    def summary(self) -> str:
        """One line naming what the spec resolved to; every command prints the same line for the same spec."""
        where = f" {self.path}" if self.path is not None else ""
        what = "shipped checkpoint" if self.shipped else {"architecture": "architecture"}.get(self.kind, self.kind)
        weights = "trained" if self.trained else "random weights"
        return f"model {self.spec}: {what} {self.name}{where} ({self.architecture or 'architecture unknown'}, {weights})"


def _unknown(spec: str) -> UnknownNameError:
    shipped = list(shipped_models())
    known = shipped + architectures()
    return UnknownNameError(
        f"unknown model {spec!r}.{did_you_mean(spec, known)} Shipped models: {', '.join(shipped) or 'none'}; "
        "or a path to a .safetensors checkpoint, .onnx file or TensorRT .plan")


def resolve(spec: str | os.PathLike[str] | None = None, *, random_weights: bool = False) -> Artefact:
    """The artefact ``spec`` names (``None``: the shipped default student).

    Args:
        spec: Shipped model name, checkpoint, ``.onnx``, ``.plan``/``.engine``/``.trt``, or an
            architecture name when ``random_weights`` is set.
        random_weights: Allow an architecture name: the model then has seeded random weights (for
            timing and trying the toolchain; its images mean nothing).

    Raises:
        ConfigError: an architecture name without ``random_weights``, or a pickle file.
        DataError: a path with an artefact suffix that does not exist.
        CheckpointError: a checkpoint without a valid card.
        UnknownNameError: anything else, with the shipped models listed.
    """
    shipped = shipped_models()
    if spec is None and DEFAULT_MODEL not in shipped:
        raise ConfigError(f"no shipped default model ({DEFAULT_MODEL} is not in this installation): pass a "
                          "checkpoint (.safetensors), an .onnx file or a plan, or an architecture with --random-weights")
    text = DEFAULT_MODEL if spec is None else os.fspath(spec)
    if text in shipped:
        path = shipped[text]
        card = _card(path)
        return Artefact(text, "checkpoint", text, path, card["architecture"], True, card=card)
    kind = kind_of_path(text)
    if kind is not None:
        path = Path(text)
        if not path.is_file():
            what = {"checkpoint": "checkpoint", "onnx": "ONNX file", "engine": "TensorRT engine"}[kind]
            raise DataError(f"{what} not found: {path}")
        if kind == "checkpoint":
            card = _card(path)
            return Artefact(text, kind, path.stem, path, card["architecture"], card=card)
        sidecar = read_sidecar(path, required=False) if kind == "onnx" else read_sidecar(path, required=True)
        arch = ((sidecar or {}).get("model") or {}).get("architecture")
        return Artefact(text, kind, path.stem, path, arch, sidecar=sidecar)
    if Path(text).suffix.lower() in PICKLE_SUFFIXES:
        raise ConfigError(f"{text} is a pickle file: edgefuse never loads those (reading one can run code); "
                          "convert the weights to .safetensors with a model card")
    from edgefuse.models import MODELS

    if text in MODELS:
        if not random_weights:
            raise ConfigError(
                f"{text!r} is an architecture, not trained weights: pass a shipped model "
                f"({', '.join(shipped) or 'none shipped'}) or a checkpoint, or add --random-weights to run "
                f"{text} with random weights (timing only)")
        return Artefact(text, "architecture", MODELS.canonical(text), None, MODELS.canonical(text))
    if Path(text).exists():
        raise ConfigError(f"{text} is not a model file edgefuse runs: pass a .safetensors checkpoint (with its "
                          ".json card), an .onnx file or a TensorRT .plan")
    raise _unknown(text)


def _card(path: Path) -> dict[str, Any]:
    from edgefuse.models.checkpoint import read_card

    card = read_card(path)
    if not isinstance(card.get("architecture"), str):
        raise CheckpointError(f"the card of {path} names no architecture")
    return card
