"""Accuracy of a backend against the PyTorch FP32 model of the same weights, on real pairs.

The reference is found from the artefact: a torch backend is compared with a CPU FP32 copy of
its own model, an ONNX file with the checkpoint named in its sidecar (``<file>.json``,
``model.checkpoint``, written by ``edgefuse export``), a TensorRT plan with the checkpoint of the
ONNX it was built from (sidecar ``onnx.model.checkpoint``). Both are scored by
``edgefuse.runtime.compare`` on pairs loaded by ``edgefuse.data.pairs.load_spread``, as the export
parity is: the 8-bit fused images a user sees (PSNR with peak 255, mean SSIM over RGB), so
``bench --data`` on the parity folder reports the PSNR written in the artefact's sidecar.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from edgefuse.runtime.backends.base import Backend
from edgefuse.data.pairs import LoadedPair, load_spread
from edgefuse.runtime.compare import Fuser, compare
from edgefuse.errors import DataError, EngineBuildError
from edgefuse.runtime.sidecars import read_sidecar


@dataclass(frozen=True)
class Reference:
    """Where the FP32 reference comes from, or why there is none."""

    source: Any  # checkpoint path, nn.Module, or None
    label: str
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.source is not None


def load_pairs(folder: str | os.PathLike[str], count: int, size: tuple[int, int]) -> list[LoadedPair]:
    """Up to ``count`` pairs spread evenly over ``folder``, resized to ``size`` (H, W): ``load_spread``.

    Raises:
        DataError: no ``ir/`` + ``vi/`` layout, no images, or an unreadable pair.
    """
    return load_spread(folder, count, size)


def backend_fuser(backend: Backend) -> Fuser:
    """``backend`` as a ``compare`` fuser: pads the frame up to what it takes (as ``fuse_u8``), crops back."""
    return backend.infer_padded


def _sidecar(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The artefact's sidecar, ``None`` when it has none or it cannot be read (the reason is then reported)."""
    try:
        return read_sidecar(path)
    except (DataError, EngineBuildError):
        return None


def find_reference(backend: Backend) -> Reference:
    """The FP32 reference of ``backend``'s weights (``Reference.reason`` says why when there is none)."""
    if backend.name == "torch":
        ckpt = getattr(backend, "checkpoint", None)
        if ckpt:
            return Reference(ckpt, f"torch fp32 cpu, {ckpt}")
        model = getattr(backend, "model", None)
        if model is None:
            return Reference(None, "", "the torch backend has no model loaded")
        return Reference(copy.deepcopy(model).float().cpu(), f"torch fp32 cpu, {backend.artefact} (same weights)")
    doc = _sidecar(backend.artefact or "")
    if doc is None:
        return Reference(None, "", f"no sidecar {backend.artefact}.json, so the source checkpoint is unknown")
    model_doc = doc.get("model") if backend.name == "onnxruntime" else (doc.get("onnx") or {}).get("model")
    ckpt = (model_doc or {}).get("checkpoint")
    if not ckpt:
        return Reference(None, "", f"the sidecar of {backend.artefact} names no checkpoint "
                                   "(exported with random weights?), so there is no FP32 model to compare with")
    if not Path(ckpt).is_file():
        return Reference(None, "", f"the checkpoint {ckpt} named in the sidecar of {backend.artefact} is not here")
    return Reference(ckpt, f"torch fp32 cpu, {ckpt}")


def measure_accuracy(backend: Backend, pairs: list[LoadedPair], data: str, threads: int = 0) -> dict[str, Any]:
    """PSNR/SSIM of ``backend``'s fused images against the FP32 reference on ``pairs``.

    Returns:
        ``{"available": True, "reference", "data", "pairs", "psnr_db_mean", "psnr_db_min",
        "ssim_mean", "ssim_min"}``, or ``{"available": False, "reason"}`` when the artefact
        does not say which weights it holds.
    """
    ref = find_reference(backend)
    if not ref.available:
        return {"available": False, "reason": ref.reason}
    from edgefuse.runtime import open_backend
    from edgefuse.runtime.backends.torch_backend import TorchBackend

    opened = (open_backend(model=ref.source, device="cpu", threads=threads) if isinstance(ref.source, str)
              else TorchBackend(ref.source, device="cpu", precision="fp32", threads=threads))
    with opened as reference:
        score = compare(backend_fuser(reference), {"candidate": backend_fuser(backend)}, pairs)["candidate"]
    return {"available": True, "reference": ref.label, "data": str(data), "pairs": len(pairs),
            "psnr_db_mean": score.psnr_db, "psnr_db_min": score.psnr_db_min,
            "ssim_mean": score.ssim, "ssim_min": score.ssim_min}
