"""``build_engine``: ONNX -> TensorRT plan (plain, no header) + sidecar JSON, for TensorRT 10 and 11.

What to build is decided by ``edgefuse.engines.plan.plan_build`` (pure, tested per TensorRT
version); this module only carries the plan out through the TensorRT Python API, touching no
name that ``edgefuse.runtime.trt.trt_api.NAMES`` does not list for the installed version.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from edgefuse.runtime.trt._trt import import_tensorrt
from edgefuse.engines.config import EngineConfig
from edgefuse.runtime.trt.device import gpu_info
from edgefuse.engines.plan import STRONG_BY_DEFAULT, BuildPlan, GraphPrecision, graph_precision, plan_build
from edgefuse.runtime.trt.trt_api import version_tuple
from edgefuse.errors import ConfigError, EngineBuildError
from edgefuse.files import atomic_path, ensure_writable_dir, file_sha256
from edgefuse.config_types import Precision
from edgefuse.runtime.sidecars import sidecar_path, write_sidecar

logger = logging.getLogger(__name__)

__all__ = ["BuildPlan", "GraphPrecision", "build_engine", "default_output", "graph_precision", "int8_graph",
           "onnx_sidecar", "plan_build", "plan_for"]


def default_output(onnx_path: str | os.PathLike[str], precision: Precision, folder: str = "engines") -> Path:
    """``export/out/edge_nano_int8.onnx`` -> ``engines/edge_nano_int8.plan``."""
    stem = Path(onnx_path).stem
    for suffix in ("_fp16", "_int8", "_fp32"):
        stem = stem.removesuffix(suffix)
    return Path(folder) / f"{stem}_{precision.value}.plan"


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def onnx_sidecar(onnx_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ONNX file's sidecar; for ``x.onnx`` also the FP32 islands of a sibling ``x_fp16.onnx``.

    A weakly typed FP16 build from the FP32 graph pins what the validated FP16 graph kept FP32.
    """
    src = Path(onnx_path)
    doc = _read_json(sidecar_path(src))
    if doc and "fp16" not in doc and not src.stem.endswith(("_fp16", "_int8")):
        sibling = _read_json(sidecar_path(src.with_name(f"{src.stem}_fp16.onnx")))
        if sibling.get("fp16"):
            doc = {**doc, "fp16": sibling["fp16"]}
    elif doc and "fp16" not in doc and src.stem.endswith(("_int8", "_int8_fp16")):
        # the INT8 graph keeps the FP16 export's islands FP32 too: weak typing pins them by name
        base = src.stem.removesuffix("_fp16").removesuffix("_int8")
        sibling = _read_json(sidecar_path(src.with_name(f"{base}_fp16.onnx")))
        if sibling.get("fp16"):
            doc = {**doc, "fp16": sibling["fp16"]}
    return doc


def int8_graph(onnx_path: str | os.PathLike[str], cfg: EngineConfig, trt_version: str) -> Path:
    """The graph an INT8 build parses: for ``x_int8.onnx``, a strongly typed build takes ``x_int8_fp16.onnx``.

    That FP16 Q/DQ graph (FP16 outside the Q/DQ pairs) is NVIDIA's recipe and what the export's PSNR
    search scored; ``int8_high_precision="fp32"`` keeps the given FP32-elsewhere graph, and a weakly
    typed build (TensorRT 10, INT8 + FP16 flags) keeps it too.
    """
    src = Path(onnx_path)
    sibling = src.with_name(f"{src.stem}_fp16.onnx")
    if cfg.precision is not Precision.INT8 or cfg.int8_high_precision == "fp32" or not src.stem.endswith("_int8"):
        return src
    strong = cfg.strongly_typed if cfg.strongly_typed is not None else version_tuple(trt_version) >= STRONG_BY_DEFAULT
    return sibling if strong and sibling.is_file() else src


def plan_for(onnx_path: str | os.PathLike[str], cfg: EngineConfig, trt_version: str) -> BuildPlan:
    """The plan ``build_engine`` would carry out for ``onnx_path`` on TensorRT ``trt_version`` (no TensorRT needed)."""
    src = Path(onnx_path)
    if not src.is_file():
        raise ConfigError(f"ONNX file not found: {src}")
    src = int8_graph(src, cfg, trt_version)
    plan = plan_build(cfg, graph_precision(src), trt_version, onnx_sidecar(src))
    plan.onnx = str(src)
    if src != Path(onnx_path):
        plan.notes.append(f"INT8 builds from the FP16 Q/DQ graph {src.name} beside {Path(onnx_path).name} "
                          "(--int8-high-precision fp32 builds the given graph)")
    return plan


def _pin_fp32(trt: Any, network: Any, plan: BuildPlan) -> list[str]:
    """Layer precision constraints for the plan's FP32 islands (weak typing only); the pinned names."""
    types = {getattr(trt.LayerType, t) for t in plan.pin_layer_types}
    names = set(plan.pin_layer_names)
    pinned = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type in types or layer.name in names:
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
            pinned.append(layer.name)
    return pinned


def _configure(trt: Any, builder: Any, network: Any, plan: BuildPlan) -> Any:
    config = builder.create_builder_config()
    for flag in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if plan.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_mb << 20)
    if plan.optimization_level is not None:
        config.builder_optimization_level = plan.optimization_level
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # inspect shows per-layer precision
    if plan.dla_core is not None:
        if builder.num_DLA_cores <= plan.dla_core:
            raise EngineBuildError(f"DLA core {plan.dla_core} requested, this device has {builder.num_DLA_cores}")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    if plan.hardware_compat is not None:
        level = {"ampere_plus": "AMPERE_PLUS", "same_compute_capability": "SAME_COMPUTE_CAPABILITY"}
        config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel, level[plan.hardware_compat])
    for prof in plan.profiles:
        profile = builder.create_optimization_profile()
        for name, s in prof.items():
            profile.set_shape(name, s["min"], s["opt"], s["max"])
        config.add_optimization_profile(profile)
    return config


def _attach_timing_cache(config: Any, plan: BuildPlan) -> None:
    """Read the cache file into the config; a cache TensorRT rejects stops the build before anything is written."""
    tc = plan.timing_cache
    data = Path(tc["path"]).read_bytes() if tc and tc["read"] else b""
    cache = config.create_timing_cache(data)
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        raise EngineBuildError(
            f"TensorRT rejected the timing cache {tc['path'] if tc else ''} (made on another GPU or TensorRT "
            "version, or corrupted): nothing was built. Delete it, or pass another --timing-cache path"
        )


def _parse(trt: Any, network: Any, logger_: Any, onnx_path: Path) -> Any:
    parser = trt.OnnxParser(network, logger_)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(
            f"the TensorRT ONNX parser rejected {onnx_path}: {errors} (run `edgefuse inspect {onnx_path}`)"
        )
    return parser


def build_engine(onnx_path: str | os.PathLike[str], cfg: EngineConfig) -> Path:
    """Build a plan from ``onnx_path``; write it (plain bytes), its sidecar, then the timing cache.

    Raises:
        BackendUnavailableError: TensorRT (or a CUDA GPU) is not available here.
        ConfigError: a precision the graph/TensorRT version cannot give, or a missing profile.
        EngineBuildError: the parser or builder failed, or TensorRT rejected the timing cache.
    """
    trt = import_tensorrt()
    src = Path(onnx_path)
    if not src.is_file():
        raise ConfigError(f"ONNX file not found: {src}")
    version = str(trt.__version__)
    plan = plan_for(src, cfg, version)
    src = Path(plan.onnx or src)  # an INT8 build may take the FP16 Q/DQ sibling
    onnx_doc = onnx_sidecar(src)
    out = Path(cfg.output) if cfg.output else default_output(src, cfg.precision)
    ensure_writable_dir(out.parent, "engine folder")
    gpu = gpu_info()
    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan.strongly_typed else 0
    network = builder.create_network(flags)
    parser = _parse(trt, network, log, src)  # keep the parser alive until the build is done
    pinned = _pin_fp32(trt, network, plan) if plan.pin_fp32 else []
    config = _configure(trt, builder, network, plan)
    if plan.timing_cache:
        _attach_timing_cache(config, plan)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    del parser
    if serialized is None:
        raise EngineBuildError(f"TensorRT could not build {src} ({cfg.precision.value}); see the TensorRT log above")
    cache = config.get_timing_cache() if plan.timing_cache else None
    cache_bytes = bytes(cache.serialize()) if cache is not None else None
    if plan.timing_cache and cache_bytes is None:
        plan.notes.append("TensorRT returned no timing cache after the build: the cache file was not updated")
    unmatched = sorted(set(plan.pin_layer_names) - set(pinned))
    if unmatched:
        plan.notes.append(f"{len(unmatched)} FP32 nodes of the ONNX sidecar have no layer of that name")
    with atomic_path(out) as tmp:
        tmp.write_bytes(bytes(serialized))
    _write_sidecar(out, src, plan, gpu, onnx_doc, cfg, seconds, len(pinned))
    if cache_bytes is not None:
        cache_path = Path(plan.timing_cache["path"])  # type: ignore[index]
        ensure_writable_dir(cache_path.parent, "timing cache folder")
        with atomic_path(cache_path) as tmp:
            tmp.write_bytes(cache_bytes)
    logger.debug("built %s in %.1f s (TensorRT %s, %s)", out, seconds, version, ", ".join(plan.flags) or "FP32")
    return out


def _write_sidecar(out: Path, src: Path, plan: BuildPlan, gpu: dict[str, Any], onnx_doc: dict[str, Any],
                   cfg: EngineConfig, seconds: float, pinned: int) -> None:
    rule = dict(onnx_doc.get("size_rule") or {"multiple": plan.size_multiple})
    write_sidecar(out, **{
        "tensorrt": plan.tensorrt, "gpu": gpu, "precision": plan.precision, "strongly_typed": plan.strongly_typed,
        "flags": plan.flags, "high_precision": plan.high_precision, "pinned_fp32_layers": pinned,
        "profiles": plan.profiles, "static_shapes": plan.static_shapes, "size_rule": rule,
        "dla_core": plan.dla_core, "workspace_mb": plan.workspace_mb, "hardware_compat": plan.hardware_compat,
        "hardware_compat_applied": plan.hardware_compat is not None, "version_compatible": False, "timing_cache": plan.timing_cache, "notes": plan.notes,
        "onnx": {"path": str(src), "sha256": file_sha256(src), "model": onnx_doc.get("model"),
                 "precision": onnx_doc.get("precision")},
        "build_seconds": round(seconds, 1),
    })
