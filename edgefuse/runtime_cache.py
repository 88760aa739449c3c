"""The fastest CPU backend by default: the shipped student exported once to ONNX, then ONNX Runtime.

ONNX Runtime runs the edge students about 2-3x faster than torch eager on the CPUs here
(the CPU benchmark matrix in the README), but needs an ONNX file. ``cached_onnx`` exports a
checkpoint with the library's own ``export_onnx`` (dynamic H and W) into a cache folder, keyed
by everything that decides the graph: the checkpoint's weights, its card (architecture and
config), the edgefuse version and the source of the model and export code. A later run finds
the right file without exporting again; a changed checkpoint, card or model code exports anew.
``EDGEFUSE_CACHE_DIR`` moves the cache (default ``$XDG_CACHE_HOME/edgefuse`` or
``~/.cache/edgefuse``); ``EDGEFUSE_BACKEND=torch`` turns the default off.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgefuse.errors import EdgefuseError
from edgefuse.files import file_sha256, sha256_hex
from edgefuse.runtime import Artefact, resolve

logger = logging.getLogger(__name__)

DYNAMIC = ((16, 16), (480, 640), (4096, 4096))


def cache_dir() -> Path:
    base = os.environ.get("EDGEFUSE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgefuse"


def ort_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _graph_sources() -> list[Path]:
    """The library files an exported graph depends on: the model definitions and the ONNX exporter."""
    pkg = Path(__file__).resolve().parent
    return sorted((pkg / "models").rglob("*.py")) + [pkg / "export" / "onnx.py"]


def cache_key(ckpt: Path) -> str:
    """16 hex digits over the weights, the card next to them, the version and the graph sources."""
    from edgefuse._version import __version__
    from edgefuse.models.checkpoint import card_path

    parts = [file_sha256(ckpt), __version__]
    card = card_path(ckpt)
    parts.append(file_sha256(card) if card.is_file() else "no card")
    parts += [f"{p.relative_to(p.parents[1])}:{file_sha256(p)}" for p in _graph_sources() if p.is_file()]
    return sha256_hex("\n".join(parts), 16)


def cached_onnx(model: str | Artefact | None = None) -> Path | None:
    """The ONNX export of ``model`` (a shipped name, checkpoint or its artefact; ``None``: the default student).

    Returns ``None`` where ONNX Runtime is not installed, the default is turned off, or the
    model has no checkpoint file (an architecture with random weights); the caller then uses
    torch. Export errors are logged and give ``None`` too: the default must never be worse
    than torch.
    """
    if os.environ.get("EDGEFUSE_BACKEND", "").lower() == "torch" or not ort_available():
        return None
    try:
        art = model if isinstance(model, Artefact) else resolve(model)
    except EdgefuseError:  # unknown names: let the caller's own resolution report them
        return None
    if art.kind != "checkpoint" or art.text_guided:  # a teacher's text prior cannot be exported
        return None
    assert art.path is not None
    label, ckpt = art.name, art.path
    target = cache_dir() / "onnx" / f"{label}-{cache_key(Path(ckpt))}.onnx"
    if target.is_file():
        return target
    from edgefuse.models.checkpoint import load_checkpoint

    module, _card = load_checkpoint(ckpt)  # a broken checkpoint is the caller's error, not a reason to fall back
    try:
        from edgefuse.export.onnx import export_onnx

        logger.info("exporting %s to %s once (ONNX Runtime is faster than torch here)", label, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        module.eval()
        export_onnx(module, target, DYNAMIC[1][0], DYNAMIC[1][1], dynamic=DYNAMIC)
    except Exception as e:  # noqa: BLE001
        logger.warning("could not export %s to ONNX (%s: %s); using torch", label, type(e).__name__, e)
        return None
    return target


__all__ = ["cache_dir", "cache_key", "cached_onnx", "ort_available"]
