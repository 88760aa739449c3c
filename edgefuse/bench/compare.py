"""Benchmark several artefacts with the same options in one run and rank them against the first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from edgefuse.runtime import backend_for, canonical_backend
from edgefuse.runtime.sidecars import sidecar_value
from edgefuse.bench.benchmark import BenchConfig, Progress, run_bench
from edgefuse.errors import ConfigError


def config_for(artefact: str, cfg: BenchConfig) -> BenchConfig:
    """``cfg`` pointed at ``artefact``: a ``.plan``/``.engine`` is TensorRT, ``.onnx`` ONNX Runtime, else torch.

    ``--precision`` and ``--device`` choices that only torch takes are kept for torch entries and
    dropped for artefacts, which carry their own precision and pick their device by backend.
    """
    kind = backend_for(artefact)
    base = cfg.replace(engine=None, onnx=None, model=None)
    if kind == "tensorrt":
        return base.replace(engine=artefact, precision=None, device="cuda")
    if kind == "onnxruntime":
        device = cfg.device if cfg.device in (None, "cpu", "cuda", "tensorrt") else None
        return base.replace(onnx=artefact, precision=None, device=device)
    return base.replace(model=artefact)


def static_hw(artefact: str) -> tuple[int, int] | None:
    """The fixed (H, W) of an ONNX file or TensorRT plan, read without opening a session; else ``None``."""
    from pathlib import Path

    kind = backend_for(artefact)
    if kind == "onnxruntime" and Path(artefact).is_file():
        import onnx

        try:
            graph = onnx.load(artefact, load_external_data=False).graph
        except Exception:  # a corrupt file is reported by the backend when it is benched
            return None
        dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] if graph.input else []
        return (dims[2], dims[3]) if len(dims) == 4 and dims[2] > 0 and dims[3] > 0 else None
    if kind == "tensorrt":
        shape = sidecar_value(artefact, "static_shapes", "vis", default=None) or []
        return (int(shape[2]), int(shape[3])) if len(shape) == 4 else None
    return None


def run_compare(artefacts: Sequence[str], cfg: BenchConfig, progress: Progress | None = None,
                on_result: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Bench each artefact in turn at one size; speed-ups are p50 latency of the first over each.

    The size is ``--height``/``--width`` when given, else the static shape of the first
    static-shape artefact in the list, else 480x640, so every entry runs on the same input.

    Returns:
        ``{"baseline": artefact, "results": [result, ...], "speedup": [1.0, ...]}`` where each
        result has the single-bench keys plus ``"name"`` (the artefact as given).

    Raises:
        ConfigError: fewer than two artefacts.
    """
    if len(artefacts) < 2:
        raise ConfigError(f"--compare needs at least two artefacts or model names; got {len(artefacts)}")
    if cfg.engine or cfg.onnx or cfg.model:
        raise ConfigError("with --compare, list every artefact after it (not with --engine/--onnx/--model)")
    if cfg.backend:  # checked for every entry before any runs: a forced backend is never dropped silently
        forced = canonical_backend(cfg.backend)
        wrong = [a for a in artefacts if backend_for(a) != forced]
        if wrong:
            raise ConfigError(f"--backend {forced} cannot run {', '.join(wrong)} (that needs "
                              f"{backend_for(wrong[0])}); export it first (edgefuse export) or drop --backend")
    if cfg.height is None or cfg.width is None:
        fixed = next((hw for hw in map(static_hw, artefacts) if hw is not None), None)
        if fixed is not None:
            cfg = cfg.replace(height=cfg.height or fixed[0], width=cfg.width or fixed[1])
    results: list[dict[str, Any]] = []
    for artefact in artefacts:
        one = config_for(artefact, cfg)
        if results:
            one = one.replace(height=results[0]["height"], width=results[0]["width"])
        result = {"name": artefact, **run_bench(one, progress)}
        results.append(result)
        if on_result:
            on_result(artefact, result)
    base = results[0]["latency_ms"]["p50"]
    speedup = [base / r["latency_ms"]["p50"] if r["latency_ms"]["p50"] > 0 else 0.0 for r in results]
    return {"baseline": artefacts[0], "results": results, "speedup": speedup}
