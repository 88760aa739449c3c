"""Checkpoints: ``.safetensors`` weights plus a JSON model card; loading needs no network.

Layout: ``NAME.safetensors`` (tensors only, no pickled code) and ``NAME.json`` beside it::

    {"format": "edgefuse-checkpoint/1", "architecture": "edge_nano",
     "config": {...constructor overrides...}, "sha256": "<of the .safetensors file>",
     "params": 19036, "training": {...command, data, iterations...}, "metrics": {...}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgefuse.files import file_sha256  # noqa: F401  (re-exported: callers import it from here)

from edgefuse.files import read_json_object, sha256_hex, write_bytes_atomic
from edgefuse.errors import CheckpointError
from edgefuse.models.profile import count_params
from edgefuse.models.registry import MODELS, create_model

FORMAT = "edgefuse-checkpoint/1"
SUFFIX = ".safetensors"


def card_path(weights: str | os.PathLike[str]) -> Path:
    """The JSON card that belongs to a ``.safetensors`` file."""
    return Path(weights).with_suffix(".json")


def save_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], architecture: str,
    config: dict[str, Any] | None = None, card: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and card atomically; return the weights path."""
    from safetensors.torch import save

    MODELS.canonical(architecture)
    p = Path(path)
    if p.suffix != SUFFIX:
        p = p.with_suffix(SUFFIX)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = save(state, metadata={"format": FORMAT, "architecture": architecture})
    write_bytes_atomic(p, data)
    doc = {
        "format": FORMAT,
        "architecture": architecture,
        "config": _jsonable(config or {}),
        "sha256": sha256_hex(bytes(data)),
        "params": count_params(model),
        **(card or {}),
    }
    write_bytes_atomic(card_path(p), (json.dumps(doc, indent=2) + "\n").encode())
    return p


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the JSON card of a checkpoint."""
    cp = card_path(path)
    if not cp.is_file():
        raise CheckpointError(f"no model card {cp} beside {path}; a checkpoint is a .safetensors + .json pair")
    doc = read_json_object(cp, f"model card {cp}", "restore it from the release", CheckpointError)
    if not isinstance(doc.get("config", {}), dict):
        raise CheckpointError(f"model card {cp}: 'config' must be a mapping of constructor options, "
                              f"not {type(doc['config']).__name__}")
    if not isinstance(doc.get("architecture", ""), str):
        raise CheckpointError(f"model card {cp}: 'architecture' must be a name, not {doc['architecture']!r}")
    if doc.get("format") != FORMAT or "architecture" not in doc:
        raise CheckpointError(f"{cp} is not an edgefuse model card (format {doc.get('format')!r}, expected {FORMAT!r})")
    return doc


def load_checkpoint(
    path: str | os.PathLike[str], architecture: str | None = None, map_location: str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model named in the card and load its weights; return (model, card).

    Raises:
        CheckpointError: missing or corrupt files, a checksum mismatch, another
            architecture than ``architecture``, or missing/unexpected weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    card = read_card(p)
    arch = card["architecture"]
    if architecture is not None and MODELS.canonical(architecture) != arch:
        raise CheckpointError(f"{p} holds a {arch!r} model, not {architecture!r}; pick a {architecture} checkpoint")
    if card.get("sha256") and file_sha256(p) != card["sha256"]:
        raise CheckpointError(f"{p} does not match the checksum in its card: the file is corrupt or was replaced")
    try:
        state = load_file(str(p), device=map_location)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read weights from {p}: {e}") from e
    model = _build_from_card(arch, card, p)
    _load_state(model, state, p)
    return model.eval(), card


MAX_PARAMS = 500_000_000


def _build_from_card(arch: str, card: dict[str, Any], path: Path) -> nn.Module:
    """The card's model, after sizing it on the meta device (no memory): absurd or wrong configs are refused."""
    config = card.get("config", {})
    try:
        with torch.device("meta"):
            params = count_params(create_model(arch, **config))
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001  - a constructor rejecting a wrong type or value
        raise CheckpointError(f"the card of {path} has a config the {arch!r} model does not take "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from None
    if params > MAX_PARAMS:
        raise CheckpointError(f"the card of {path} describes a {arch} model of {params:,} parameters "
                              f"(more than {MAX_PARAMS:,}); the card is corrupt or not an edgefuse model")
    return create_model(arch, **config)


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise CheckpointError(f"weights in {path} do not fit the architecture in its card: {'; '.join(parts)}")
    model.load_state_dict(state)


# ----------------------------------------------------------------------------- training state (last.pt)
_RESUME_HINT = "pass --no-resume to start over, or delete the file"


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write a training state (``last.pt``) atomically: serialised in memory, then one checked write.

    Only what :func:`load_state` reads back with ``weights_only=True`` may be in ``state``:
    tensors, numbers, strings, None and lists/tuples/dicts of them. A full disk or a folder
    without write permission raises a one-line :class:`~edgefuse.errors.OutputError`, leaves no
    temporary file and keeps the previous file.
    """
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    return write_bytes_atomic(Path(path), buf.getbuffer())


def load_state(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a training state written by :func:`save_state`, never running pickled code.

    ``torch.load(weights_only=True)`` refuses any object but tensors and plain containers, so a
    swapped file cannot execute anything. Every failure (missing, empty, truncated, not a torch
    file, refused objects, missing keys) is one :class:`CheckpointError` line that names the fix.
    """
    p = Path(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  - zip, pickle, EOF, OS and torch errors alike
        raise CheckpointError(f"cannot resume from {p}: {_first_line(e)}; {_RESUME_HINT}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot resume from {p}: it holds a {type(state).__name__}, not a training "
                              f"state; {_RESUME_HINT}")
    missing = [k for k in required if k not in state]
    if missing:
        raise CheckpointError(f"cannot resume from {p}: no {', '.join(missing)} in it; {_RESUME_HINT}")
    return state


class resume_errors:  # noqa: N801  - used as a context manager, reads as a phrase
    """Turn a state that does not fit the model/optimizer (shapes, keys, types) into one CheckpointError."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: Any) -> bool:
        if e is None or isinstance(e, CheckpointError) or not isinstance(e, Exception):
            return False
        if isinstance(e, (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError)):
            raise CheckpointError(f"cannot resume from {self.path}: it does not fit this run "
                                  f"({type(e).__name__}: {_first_line(e)}); {_RESUME_HINT}") from None
        return False


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."
