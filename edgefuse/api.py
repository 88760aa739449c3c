"""The Python API: the command line's verbs as functions, with the artefact as the unit.

    import edgefuse

    model = edgefuse.load("edge_nano_ivf")        # or a .safetensors / .onnx / .plan path
    fused = model(vis, ir)                        # HxWx3 uint8 RGB + HxW uint8 IR -> HxWx3 uint8 RGB
    report = model.export(out="export/out", precision="fp16")
    timing = model.bench(iters=20)
    scores = edgefuse.evaluate("pairs/", methods=["edge_nano_ivf", "max"])

A model spec means what it means on the command line (``edgefuse.runtime.resolve``): a shipped
name, a checkpoint, an ONNX file, a TensorRT plan, or an architecture with ``random_weights=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.errors import ShapeMismatchError
from edgefuse.runtime import Artefact, resolve

Spec = str | os.PathLike[str] | None


class Model:
    """One loaded artefact that fuses pairs; returned by :func:`load`.

    Call it on a pair: numpy images (``vis`` HxWx3 RGB, ``ir`` HxW; uint8, or float in [0, 1]) give
    the fused HxWx3 image (uint8, or float32); frames of any size are padded to what the artefact
    takes and cropped back. Torch tensors (``vis`` Nx3xHxW, ``ir`` Nx1xHxW, float in [0, 1]) give the
    fused Nx3xHxW tensor; a batch must have a size the artefact takes. Use it as a context manager (or call :meth:`close`) to free the backend.
    """

    def __init__(self, artefact: Artefact, backend: Any) -> None:
        self.artefact = artefact
        self.backend = backend

    def __repr__(self) -> str:
        return (f"edgefuse.Model({self.artefact.name!r}, kind={self.artefact.kind}, backend={self.backend.name}, "
                f"device={self.backend.device})")

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    def __call__(self, vis: Any, ir: Any) -> Any:
        if _is_tensor(vis) or _is_tensor(ir):
            return self._fuse_tensors(vis, ir)
        vis, ir = np.asarray(vis), np.asarray(ir)
        if vis.ndim != 3 or vis.shape[2] != 3 or ir.ndim != 2:
            raise ShapeMismatchError(f"a pair is vis HxWx3 and ir HxW; got {vis.shape} and {ir.shape} "
                                     "(for batches pass torch tensors N x 3 x H x W and N x 1 x H x W)")
        if vis.dtype == np.uint8 and ir.dtype == np.uint8:
            return self.backend.fuse_u8(vis, ir)
        if vis.dtype == np.uint8 or ir.dtype == np.uint8:
            raise ShapeMismatchError(f"vis and ir must have the same kind of values; got {vis.dtype} and {ir.dtype}")
        return self.backend.fuse_float(vis, ir)

    def _fuse_tensors(self, vis: Any, ir: Any) -> Any:
        import torch

        if not (_is_tensor(vis) and _is_tensor(ir)):
            raise ShapeMismatchError("pass both vis and ir as torch tensors, or both as numpy arrays")
        v = vis.detach().float().cpu().numpy()
        i = ir.detach().float().cpu().numpy()
        out = self.backend.infer(np.ascontiguousarray(v), np.ascontiguousarray(i))
        return torch.from_numpy(out).to(vis.device)

    def export(self, **options: Any) -> Any:
        """``edgefuse export`` of this model's weights (``ExportConfig`` options, e.g. ``precision="int8"``)."""
        if self.artefact.kind not in ("checkpoint", "architecture"):
            from edgefuse.errors import ConfigError

            raise ConfigError(f"{self.artefact.spec} is already an exported {self.artefact.kind} file")
        return export(self.artefact.spec, random_weights=not self.artefact.trained, **options)

    def bench(self, **options: Any) -> dict[str, Any]:
        """``edgefuse bench`` of this artefact (``BenchConfig`` options, e.g. ``iters=20, threads=2``)."""
        return bench(self.artefact.spec, random_weights=not self.artefact.trained, **options)


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def load(spec: Spec = None, *, device: str | None = None, threads: int = 0, random_weights: bool = False,
         fastest: bool = True) -> Model:
    """Load a model or artefact (``None``: the shipped default student) and open its backend.

    With ``fastest`` (default) trained weights on the CPU run through ONNX Runtime from a cached
    export, as ``edgefuse fuse`` does; ``fastest=False`` keeps torch.
    """
    from edgefuse.fusion import open_model

    art = resolve(spec, random_weights=random_weights)
    backend = open_model(art, device=device, threads=threads, fastest=fastest).open()
    return Model(art, backend)


def export(spec: Spec = None, *, random_weights: bool = False, recipe: str | None = None, **options: Any) -> Any:
    """``edgefuse export``: ONNX (+ FP16, INT8), parity, sidecars; returns the ``ExportReport``."""
    from edgefuse.export import ExportConfig, run_export

    art = resolve(spec, random_weights=random_weights)
    cfg = ExportConfig.from_recipe(recipe, model=art.spec, random_weights=random_weights or None, **options)
    return run_export(cfg)


def bench(spec: Spec = None, *, random_weights: bool = False, **options: Any) -> dict[str, Any]:
    """``edgefuse bench``: latency percentiles, throughput, stages, memory (and accuracy with ``data=``)."""
    from edgefuse.bench import BenchConfig, run_bench

    art = resolve(spec, random_weights=random_weights)
    return run_bench(BenchConfig(model=art.spec, random_weights=random_weights, **options))


def evaluate(data: str | os.PathLike[str], methods: Sequence[str] = ("edge_nano_ivf",), *,
             fused: dict[str, str | os.PathLike[str]] | None = None, metrics: Sequence[str] | None = None,
             reference: str | os.PathLike[str] | None = None) -> Any:
    """``edgefuse eval``: metrics of each method (and each folder of fused images) on the pairs of ``data``.

    Returns the ``EvalResult`` (``.rows`` per pair, ``.means()``; ``edgefuse.evaluation.report`` writes
    its table, CSV, JSON and picture grid).
    """
    from edgefuse.evaluation.runner import Column, evaluate_dataset

    columns = [Column(m, method=m) for m in methods]
    columns += [Column(label, fused_dir=Path(folder)) for label, folder in (fused or {}).items()]
    return evaluate_dataset(data, columns, metrics=metrics, reference=reference)


def stream(*, ir: str, vis: str, model: Spec = None, outputs: Sequence[str] = (), random_weights: bool = False,
           **options: Any) -> dict[str, Any]:
    """``edgefuse stream``: pair IR and visible frames by capture time, fuse, write/serve; returns the stats."""
    from edgefuse.fusion import open_model
    from edgefuse.stream import run_stream

    art = resolve(model, random_weights=random_weights)
    return run_stream(ir=ir, vis=vis, outputs=list(outputs) or None,
                      load_fuser=lambda: open_model(art, spin=False), **options)
