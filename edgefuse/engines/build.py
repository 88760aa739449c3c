"""``build_engine``: ONNX -> TensorRT plan (plain, no header) + sidecar JSON, for TensorRT 10 and 11.

* TensorRT 11 (and TensorRT 10 with ``strongly_typed=True``): a strongly typed network; the
  precision is the graph's (``*_fp16.onnx`` from ``edgefuse export``, ``*_int8.onnx`` Q/DQ).
* TensorRT 10 by default: weak typing with builder flags; FP16 sets ``BuilderFlag.FP16``,
  INT8 sets ``INT8`` + ``FP16`` on the Q/DQ graph (explicit quantization, no calibrator), and
  normalization/softmax/reduce layers are pinned to FP32 as in the FP16 ONNX.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefuse.engines._trt import import_tensorrt, major
from edgefuse.engines.config import EngineConfig
from edgefuse.engines.device import gpu_info
from edgefuse.engines.guard import FORMAT
from edgefuse.errors import ConfigError, EngineBuildError
from edgefuse.export._io import atomic_path, ensure_writable_dir, sha256_file, write_json_atomic
from edgefuse.export.config import Precision
from edgefuse.export.manifest import now_iso, sidecar_path, tool_versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphPrecision:
    """What precision an ONNX graph carries by itself."""

    qdq: bool
    fp16: bool


@dataclass
class BuildPlan:
    """How a build will run: network typing and builder flags."""

    strongly_typed: bool
    flags: list[str] = field(default_factory=list)
    pin_fp32: bool = False


def graph_precision(path: str | os.PathLike[str]) -> GraphPrecision:
    """Whether ``path`` has Q/DQ nodes and FP16 tensors."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    fp16 = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer) or any(
        a.name == "to" and a.i == onnx.TensorProto.FLOAT16
        for n in model.graph.node if n.op_type == "Cast" for a in n.attribute
    )
    return GraphPrecision(qdq, fp16)


def plan_build(precision: Precision, graph: GraphPrecision, trt_major: int, strongly_typed: bool | None) -> BuildPlan:
    """Decide typing and flags; refuse combinations that cannot give ``precision``.

    Raises:
        ConfigError: e.g. weak typing on TensorRT 11, INT8 without Q/DQ nodes, FP16 on a
            strongly typed build from an FP32 graph.
    """
    strong = strongly_typed if strongly_typed is not None else trt_major >= 11
    if trt_major >= 11 and not strong:
        raise ConfigError("TensorRT 11 builds strongly typed networks only (BuilderFlag.FP16/INT8 were removed)")
    p = precision.value
    if precision is Precision.INT8 and not graph.qdq:
        raise ConfigError(
            "INT8 needs the Q/DQ graph (explicit quantization; calibrators are deprecated since TensorRT 10.1 and gone "
            "in 11): build from <model>_int8.onnx made by `edgefuse export --precision int8 --calib DIR`"
        )
    if precision is not Precision.INT8 and graph.qdq:
        raise ConfigError(f"this graph has Q/DQ nodes, so it is an INT8 graph: pass --precision int8, not {p}")
    if strong:
        if precision is Precision.FP16 and not graph.fp16:
            raise ConfigError(
                "a strongly typed build runs the graph's own types and this graph is FP32: build from "
                "<model>_fp16.onnx (made by `edgefuse export --precision fp16`) for an FP16 engine"
            )
        if precision is Precision.FP32 and graph.fp16:
            raise ConfigError("this graph is FP16; for an FP32 engine build from the FP32 <model>.onnx")
        return BuildPlan(True, ["STRONGLY_TYPED"])
    flags = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8", "FP16"]}[p]
    return BuildPlan(False, flags, pin_fp32=bool(flags))


def default_output(onnx_path: str | os.PathLike[str], precision: Precision, folder: str = "engines") -> Path:
    """``export/out/edge_nano_int8.onnx`` -> ``engines/edge_nano_int8.plan``."""
    stem = Path(onnx_path).stem
    for suffix in ("_fp16", "_int8", "_fp32"):
        stem = stem.removesuffix(suffix)
    return Path(folder) / f"{stem}_{precision.value}.plan"


def _onnx_sidecar(onnx_path: Path) -> dict[str, Any]:
    import json

    sc = sidecar_path(onnx_path)
    try:
        return json.loads(sc.read_text()) if sc.is_file() else {}
    except (OSError, ValueError):
        return {}


def _profile(network: Any, cfg: EngineConfig, onnx_doc: dict[str, Any]) -> dict[str, Any] | None:
    """Min/opt/max per dynamic input, from ``cfg.profile`` or the ONNX sidecar's shapes."""
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    dynamic = [t for t in inputs if -1 in tuple(t.shape)]
    if not dynamic:
        if cfg.profile is not None:
            raise ConfigError("--profile was given but the graph has static shapes; export with --dynamic for profiles")
        return None
    spec = cfg.profile
    shapes = onnx_doc.get("shapes") or {}
    if spec is None and "opt" in shapes:
        spec = (tuple(shapes["min"]), tuple(shapes["opt"]), tuple(shapes["max"]))
    if spec is None:
        raise ConfigError("the graph has dynamic H/W: pass --profile MIN:OPT:MAX (e.g. 256x320:480x640:720x1280)")
    out = {}
    for t in dynamic:
        n, c = (d if d > 0 else 1 for d in tuple(t.shape)[:2])
        out[t.name] = {k: [n, c, h, w] for k, (h, w) in zip(("min", "opt", "max"), spec)}
    return out


def _configure(trt: Any, builder: Any, network: Any, cfg: EngineConfig, plan: BuildPlan) -> Any:
    config = builder.create_builder_config()
    for flag in plan.flags:
        if flag != "STRONGLY_TYPED":
            config.set_flag(getattr(trt.BuilderFlag, flag))
    if plan.pin_fp32:  # the FP16 ONNX's FP32 islands, as layer constraints (weak typing only)
        fragile = {trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX, trt.LayerType.REDUCE}
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            if layer.type in fragile:
                layer.precision = trt.float32
                for j in range(layer.num_outputs):
                    layer.set_output_type(j, trt.float32)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        plan.flags.append("OBEY_PRECISION_CONSTRAINTS")
    if cfg.workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, cfg.workspace_mb << 20)
    if cfg.optimization_level is not None:
        config.builder_optimization_level = cfg.optimization_level
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # inspect shows per-layer precision
    if cfg.dla_core is not None:
        if builder.num_DLA_cores <= cfg.dla_core:
            raise EngineBuildError(f"DLA core {cfg.dla_core} requested, this device has {builder.num_DLA_cores}")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = cfg.dla_core
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)  # silent fallback: `edgefuse inspect` shows where layers ran
        plan.flags.append("GPU_FALLBACK")
    if cfg.hardware_compat == "ampere_plus":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    return config


def _parse(trt: Any, network: Any, logger_: Any, onnx_path: Path) -> Any:
    parser = trt.OnnxParser(network, logger_)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(
            f"the TensorRT ONNX parser rejected {onnx_path}: {errors} (run `edgefuse inspect {onnx_path}`)"
        )
    return parser


def build_engine(onnx_path: str | os.PathLike[str], cfg: EngineConfig) -> Path:
    """Build a plan from ``onnx_path``; write it (plain bytes) and its sidecar; return the plan path.

    Raises:
        BackendUnavailableError: TensorRT (or a CUDA GPU) is not available here.
        ConfigError: a precision the graph/TensorRT version cannot give, or a missing profile.
        EngineBuildError: the parser or builder failed.
    """
    trt = import_tensorrt()
    src = Path(onnx_path)
    if not src.is_file():
        raise ConfigError(f"ONNX file not found: {src}")
    version = str(trt.__version__)
    plan = plan_build(cfg.precision, graph_precision(src), major(version), cfg.strongly_typed)
    out = Path(cfg.output) if cfg.output else default_output(src, cfg.precision)
    ensure_writable_dir(out.parent, "engine folder")
    gpu = gpu_info()
    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan.strongly_typed else 0
    network = builder.create_network(flags)
    parser = _parse(trt, network, log, src)  # keep the parser alive until the build is done
    config = _configure(trt, builder, network, cfg, plan)
    onnx_doc = _onnx_sidecar(src)
    profile_shapes = _profile(network, cfg, onnx_doc)
    if profile_shapes:
        profile = builder.create_optimization_profile()
        for name, s in profile_shapes.items():
            profile.set_shape(name, s["min"], s["opt"], s["max"])
        config.add_optimization_profile(profile)
    cache_path = Path(cfg.timing_cache) if cfg.timing_cache else None
    cache_bytes = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), ignore_mismatch=False)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    del parser
    if serialized is None:
        raise EngineBuildError(f"TensorRT could not build {src} ({cfg.precision.value}); see the TensorRT log above")
    with atomic_path(out) as tmp:
        tmp.write_bytes(bytes(serialized))
    if cache_path is not None:
        ensure_writable_dir(cache_path.parent, "timing cache folder")
        with atomic_path(cache_path) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    write_json_atomic(sidecar_path(out), {
        "format": FORMAT, "artifact": out.name, "sha256": sha256_file(out), "bytes": out.stat().st_size,
        "tensorrt": version, "gpu": gpu, "precision": cfg.precision.value, "strongly_typed": plan.strongly_typed,
        "flags": plan.flags, "profiles": [profile_shapes] if profile_shapes else [],
        "static_shapes": None if profile_shapes else {network.get_input(i).name: list(network.get_input(i).shape)
                                                       for i in range(network.num_inputs)},
        "dla_core": cfg.dla_core, "workspace_mb": cfg.workspace_mb, "hardware_compat": cfg.hardware_compat,
        "version_compatible": False, "timing_cache": str(cache_path) if cache_path else None,
        "onnx": {"path": str(src), "sha256": sha256_file(src), "model": onnx_doc.get("model")},
        "build_seconds": round(seconds, 1), "tools": tool_versions(), "created": now_iso(),
    })
    logger.debug("built %s in %.1f s (TensorRT %s, %s)", out, seconds, version, ", ".join(plan.flags) or "FP32")
    return out
