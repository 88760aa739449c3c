"""The build plan: a pure function of the engine config, the graph and the TensorRT version.

``plan_build`` decides network typing, builder flags, FP32 pins, optimization profiles, hardware
compatibility, DLA and timing-cache handling before TensorRT is touched, so every decision is
tested on the CPU for any TensorRT version and ``edgefuse build --dry-run --trt-version X``
prints it. ``build_engine`` only carries the plan out.

Typing (TensorRT release notes 10.12: weak typing deprecated; 11.0: ``BuilderFlag.FP16/INT8``,
``OBEY_PRECISION_CONSTRAINTS`` and layer precisions removed):

* TensorRT >= 10.12 (default) and 11.x (always): strongly typed; the graph's types run, so FP16
  comes from ``*_fp16.onnx`` (its validated FP32 islands included) and INT8 from the FP16 Q/DQ
  graph ``*_int8_fp16.onnx`` (FP16 outside the Q/DQ pairs, NVIDIA's recipe; ``plan_for`` takes it
  for ``*_int8.onnx`` when it lies beside it). The FP32-elsewhere ``*_int8.onnx`` only with
  ``int8_high_precision="fp32"``.
* TensorRT 10.0-10.11 (default) or ``--weakly-typed`` on 10.x: builder flags; the FP32 islands
  are pinned as layer precision constraints: normalization/softmax/reduce layers by type plus
  every node the FP16/INT8 export kept in FP32, by name, from the ONNX sidecars.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgefuse.engines.config import EngineConfig
from edgefuse.runtime.trt.trt_api import Version, has, version_tuple
from edgefuse.errors import ConfigError
from edgefuse.config_types import Precision

STRONG_BY_DEFAULT = (10, 12)  # weak typing deprecated from here
PIN_LAYER_TYPES = ("NORMALIZATION", "SOFTMAX", "REDUCE")
NO_DLA = ((11, 0), (11, 3))  # TensorRT 11.0-11.3 ship without DLA; back in 11.4.1 (AGX Orin, JetPack 7.2.2+)


@dataclass(frozen=True)
class GraphPrecision:
    """What an ONNX graph carries by itself: Q/DQ nodes, FP16 tensors, its inputs (-1: dynamic)."""

    qdq: bool
    fp16: bool
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass
class BuildPlan:
    """How a build will run. ``flags`` are ``BuilderFlag`` names; ``network_flags`` creation flags."""

    tensorrt: str
    precision: str
    strongly_typed: bool
    flags: list[str] = field(default_factory=list)
    network_flags: list[str] = field(default_factory=list)
    pin_layer_types: list[str] = field(default_factory=list)
    pin_layer_names: list[str] = field(default_factory=list)
    high_precision: str = "fp32"
    profiles: list[dict[str, dict[str, list[int]]]] = field(default_factory=list)
    static_shapes: dict[str, list[int]] | None = None
    size_multiple: int = 1
    hardware_compat: str | None = None
    dla_core: int | None = None
    workspace_mb: int | None = None
    optimization_level: int | None = None
    timing_cache: dict[str, Any] | None = None
    onnx: str | None = None  # the graph TensorRT parses (plan_for may take the FP16 Q/DQ sibling)
    notes: list[str] = field(default_factory=list)

    @property
    def pin_fp32(self) -> bool:
        return bool(self.pin_layer_types or self.pin_layer_names)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def graph_precision(path: str | os.PathLike[str]) -> GraphPrecision:
    """Whether ``path`` has Q/DQ nodes and FP16 tensors, and its input shapes."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    fp16 = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer) or any(
        a.name == "to" and a.i == onnx.TensorProto.FLOAT16
        for n in model.graph.node if n.op_type == "Cast" for a in n.attribute
    )
    inits = {t.name for t in model.graph.initializer}
    inputs = tuple((i.name, tuple(d.dim_value if d.dim_value > 0 else -1 for d in i.type.tensor_type.shape.dim))
                   for i in model.graph.input if i.name not in inits)
    return GraphPrecision(qdq, fp16, inputs)


def _typing(cfg: EngineConfig, graph: GraphPrecision, v: Version) -> bool:
    p = cfg.precision
    if cfg.strongly_typed is not None:
        strong = cfg.strongly_typed
    else:  # strong from 10.12 on; before it, strong only where the graph already carries the precision
        strong = v >= STRONG_BY_DEFAULT or (p is not Precision.FP32 and graph.fp16)
    if v[0] >= 11 and not strong:
        raise ConfigError("TensorRT 11 builds strongly typed networks only (BuilderFlag.FP16/INT8 were removed)")
    if p is Precision.INT8 and not graph.qdq:
        raise ConfigError(
            "INT8 needs the Q/DQ graph (explicit quantization; calibrators are deprecated since TensorRT 10.1 and gone "
            "in 11): build from <model>_int8.onnx made by `edgefuse export --precision int8 --calib DIR`"
        )
    if p is not Precision.INT8 and graph.qdq:
        raise ConfigError(f"this graph has Q/DQ nodes, so it is an INT8 graph: pass --precision int8, not {p.value}")
    if p is Precision.FP32 and graph.fp16:  # either typing: the sidecar would say fp32 over FP16 kernels
        raise ConfigError("this graph is FP16; for an FP32 engine build from the FP32 <model>.onnx")
    if strong and p is Precision.FP16 and not graph.fp16:
        raise ConfigError(
            f"a strongly typed build (the default from TensorRT {STRONG_BY_DEFAULT[0]}.{STRONG_BY_DEFAULT[1]}) runs the "
            "graph's own types and this graph is FP32: build from <model>_fp16.onnx (made by `edgefuse export "
            "--precision fp16`), whose FP32 islands were validated"
            + ("" if v[0] >= 11 else ", or pass --weakly-typed (deprecated since TensorRT 10.12)")
        )
    if p is Precision.INT8 and graph.fp16 and cfg.int8_high_precision == "fp32":
        raise ConfigError("this Q/DQ graph is FP16 outside the Q/DQ pairs: for FP32 there, build from <model>_int8.onnx")
    if strong and p is Precision.INT8 and not graph.fp16 and cfg.int8_high_precision != "fp32":
        raise ConfigError(
            "strongly typed INT8 runs the graph's types and this Q/DQ graph is FP32 outside the Q/DQ pairs: build "
            "from <model>_int8_fp16.onnx (FP16 there, NVIDIA's recipe; written by `edgefuse export --precision int8` "
            "beside <model>_int8.onnx), or pass --int8-high-precision fp32 to run FP32 there"
        )
    return strong


def _weak(plan: BuildPlan, cfg: EngineConfig, v: Version, kept_fp32: list[str], doc: dict[str, Any]) -> None:
    plan.flags = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8", "FP16"]}[cfg.precision.value]
    if cfg.int8_high_precision == "fp32":  # INT8 without FP16: every layer outside the Q/DQ pairs runs FP32
        plan.flags = ["INT8"]
    elif plan.flags:
        plan.pin_layer_types = list(PIN_LAYER_TYPES)
        plan.pin_layer_names = list(kept_fp32)
        plan.flags.append("OBEY_PRECISION_CONSTRAINTS")
        plan.high_precision = "fp16"
    if v >= STRONG_BY_DEFAULT:
        plan.notes.append("weak typing (builder precision flags) is deprecated since TensorRT 10.12 and gone in 11")
    if cfg.precision is Precision.INT8 and cfg.int8_high_precision != "fp32":
        scored = (doc.get("int8") or {}).get("scored_graph") or ""
        if scored.endswith("_int8_fp16.onnx"):
            plan.notes.append(
                "weakly typed INT8: layers outside the Q/DQ pairs may run FP16 (INT8 + FP16 flags), the nodes the FP16 "
                "export and the INT8 search kept FP32 are pinned by name; the export's PSNR search scored that graph "
                f"({scored}: FP16 outside the Q/DQ pairs, those nodes FP32)"
            )
        else:
            plan.notes.append(
                "weakly typed INT8: layers outside the Q/DQ pairs may run FP16 (INT8 + FP16 flags), but this sidecar's "
                "PSNR is of the FP32-elsewhere graph (an export from before the FP16 Q/DQ graph): re-export, or "
                "measure the engine itself (edgefuse bench --engine ... --data DIR)"
            )


def _profiles(cfg: EngineConfig, graph: GraphPrecision, onnx_doc: dict[str, Any], plan: BuildPlan) -> None:
    dynamic = [(n, s) for n, s in graph.inputs if -1 in s]
    if not dynamic:
        if cfg.profile is not None:
            raise ConfigError("--profile was given but the graph has static shapes; export with --dynamic for profiles")
        plan.static_shapes = {n: list(s) for n, s in graph.inputs}
        return
    spec = cfg.profile
    shapes = onnx_doc.get("shapes") or {}
    if spec is None and "opt" in shapes:
        spec = (tuple(shapes["min"]), tuple(shapes["opt"]), tuple(shapes["max"]))
        plan.notes.append("profile taken from the ONNX sidecar's min/opt/max")
    if spec is None:
        raise ConfigError("the graph has dynamic H/W: pass --profile MIN:OPT:MAX (e.g. 256x320:480x640:720x1280)")
    m = plan.size_multiple
    bad = [f"{h}x{w}" for h, w in spec if h % m or w % m]
    if bad:
        raise ConfigError(f"profile sizes {', '.join(bad)} break the model's size rule (multiples of {m}); "
                          f"round them to multiples of {m}")
    out = {}
    for name, s in dynamic:
        n, c = (d if d > 0 else 1 for d in s[:2])
        out[name] = {k: [n, c, h, w] for k, (h, w) in zip(("min", "opt", "max"), spec)}
    plan.profiles = [out]


def _placement(cfg: EngineConfig, v: Version, plan: BuildPlan) -> None:
    if cfg.hardware_compat == "same_compute_capability" and not has(
            "HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY", v):
        raise ConfigError("--hardware-compat same_compute_capability needs TensorRT 10.9 or newer; "
                          f"this is {v[0]}.{v[1]} (use ampere_plus, or none)")
    plan.hardware_compat = cfg.hardware_compat
    if cfg.dla_core is None:
        return
    if NO_DLA[0] <= v <= NO_DLA[1]:
        raise ConfigError(f"TensorRT {v[0]}.{v[1]} has no DLA support (absent in 11.0-11.3; back in 11.4.1 for "
                          "AGX Orin with JetPack 7.2.2+); drop --dla")
    if cfg.hardware_compat:
        raise ConfigError("hardware-compatible engines run on the GPU only: drop --dla or --hardware-compat")
    for prof in plan.profiles:
        for name, s in prof.items():
            if not s["min"] == s["opt"] == s["max"]:
                raise ConfigError(
                    f"DLA needs static shapes (min = opt = max), but {name} has {s['min']}..{s['max']}: TensorRT "
                    "would silently run the whole network on the GPU. Export a static size or pass "
                    "--profile HxW:HxW:HxW"
                )
    plan.dla_core = cfg.dla_core
    plan.flags.append("GPU_FALLBACK")
    plan.notes.append("DLA with GPU fallback: layers the DLA cannot run go to the GPU (edgefuse inspect shows where)")


def _timing_cache(cfg: EngineConfig, plan: BuildPlan) -> None:
    if not cfg.timing_cache:
        return
    path = Path(cfg.timing_cache)
    plan.timing_cache = {
        "path": str(path), "read": path.is_file(),
        "on_mismatch": "refuse before building (a cache from another GPU/TensorRT is never ignored silently)",
        "written": "after the plan and its sidecar",
    }


def plan_build(cfg: EngineConfig, graph: GraphPrecision, trt_version: str,
               onnx_doc: dict[str, Any] | None = None) -> BuildPlan:
    """Everything ``build_engine`` will do, decided without TensorRT.

    Args:
        cfg: The engine options.
        graph: ``graph_precision`` of the ONNX file.
        trt_version: The TensorRT version that will build (``"10.3"``, ``"11.4.1"``, ...).
        onnx_doc: The ONNX file's sidecar (shapes, size rule, nodes kept FP32), if any.

    Raises:
        ConfigError: a precision the graph/version cannot give, weak typing on TensorRT 11, a
            profile outside the size rule, DLA with a dynamic profile, an option this version lacks.
    """
    doc = onnx_doc or {}
    v = version_tuple(trt_version)
    strong = _typing(cfg, graph, v)
    plan = BuildPlan(trt_version, cfg.precision.value, strong, workspace_mb=cfg.workspace_mb,
                     optimization_level=cfg.optimization_level)
    plan.size_multiple = int((doc.get("size_rule") or {}).get("multiple", 1) or 1)
    kept = [*(doc.get("fp16") or {}).get("kept_fp32_nodes", []), *(doc.get("int8") or {}).get("kept_fp32_nodes", [])]
    kept = list(dict.fromkeys(kept))
    if strong:
        plan.network_flags = ["STRONGLY_TYPED"]
        plan.high_precision = "fp16" if graph.fp16 else "fp32"
        if cfg.precision is Precision.INT8 and not graph.fp16:
            plan.notes.append(
                "strongly typed INT8 from the FP32-elsewhere Q/DQ graph (--int8-high-precision fp32): every layer "
                "outside the Q/DQ pairs runs FP32; the export's PSNR search scored the FP16 Q/DQ graph, so measure "
                "this engine itself"
            )
    else:
        _weak(plan, cfg, v, kept, doc)
    _profiles(cfg, graph, doc, plan)
    _placement(cfg, v, plan)
    _timing_cache(cfg, plan)
    return plan


def format_plan(plan: BuildPlan) -> str:
    """The plan as the lines ``edgefuse build --dry-run`` prints."""
    lines = [f"TensorRT {plan.tensorrt}, precision {plan.precision}",
             *([f"  graph          {plan.onnx}"] if plan.onnx else []),
             f"  typing         {'strongly typed' if plan.strongly_typed else 'weakly typed (builder flags)'}"
             f"; outside Q/DQ and FP32 islands: {plan.high_precision}",
             f"  network flags  {', '.join(plan.network_flags) or '-'}",
             f"  builder flags  {', '.join(plan.flags) or '-'}"]
    if plan.pin_fp32:
        lines.append(f"  FP32 pins      layer types {', '.join(plan.pin_layer_types)}; "
                     f"{len(plan.pin_layer_names)} layers by name from the ONNX sidecar")
    for prof in plan.profiles:
        for name, s in prof.items():
            lines.append(f"  profile {name:<6} min {s['min']} opt {s['opt']} max {s['max']}")
    if plan.static_shapes:
        lines.append("  static shapes  " + ", ".join(f"{n} {s}" for n, s in plan.static_shapes.items()))
    lines.append(f"  size rule      multiples of {plan.size_multiple}")
    lines.append(f"  hardware       {plan.hardware_compat or 'this GPU only'}; "
                 f"DLA {plan.dla_core if plan.dla_core is not None else 'off'}")
    tc = plan.timing_cache
    lines.append(f"  timing cache   {tc['path'] + (' (read)' if tc['read'] else ' (new)') if tc else 'off'}")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)
