"""Accuracy of a backend against the PyTorch FP32 model of the same weights, on real pairs.

The reference is found from the artefact: a torch backend is compared with a CPU FP32 copy of
its own model, an ONNX file with the checkpoint named in its sidecar (``<file>.json``,
``model.checkpoint``, written by ``edgefuse export``), a TensorRT plan with the checkpoint of the
ONNX it was built from (sidecar ``onnx.model.checkpoint``). Both run through ``fuse_u8``, so the
comparison is of the 8-bit fused images a user sees (PSNR with peak 255, mean SSIM over RGB).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.runtime.backends.base import Backend
from edgefuse.data.pairs import LoadedPair, find_pairs, load_pair
from edgefuse.export.calibration import resize_pair
from edgefuse.export.metrics import psnr_u8, ssim_u8


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
    """Up to ``count`` pairs spread evenly over ``folder``, resized to ``size`` (H, W).

    Raises:
        DataError: no ``ir/`` + ``vi/`` layout, no images, or an unreadable pair.
    """
    found = find_pairs(folder)
    picks = sorted({int(round(i)) for i in np.linspace(0, len(found) - 1, min(count, len(found)))})
    out = []
    for i in picks:
        p = load_pair(found[i])
        vis, ir = resize_pair(p.vis, p.ir, size) if p.ir.shape[:2] != size else (p.vis, p.ir)
        out.append(LoadedPair(p.name, ir, vis))
    return out


def _sidecar(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    sc = Path(str(path) + ".json")
    try:
        return json.loads(sc.read_text()) if sc.is_file() else None
    except (OSError, ValueError):
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

    psnrs, ssims = [], []
    opened = (open_backend(model=ref.source, device="cpu", threads=threads) if isinstance(ref.source, str)
              else TorchBackend(ref.source, device="cpu", precision="fp32", threads=threads))
    with opened as reference:
        for p in pairs:
            want = reference.fuse_u8(p.vis, p.ir)
            got = backend.fuse_u8(p.vis, p.ir)
            psnrs.append(psnr_u8(got, want))
            ssims.append(ssim_u8(got, want))
    return {"available": True, "reference": ref.label, "data": str(data), "pairs": len(pairs),
            "psnr_db_mean": float(np.mean(psnrs)), "psnr_db_min": float(np.min(psnrs)),
            "ssim_mean": float(np.mean(ssims)), "ssim_min": float(np.min(ssims))}
