"""``run_export``: checkpoint -> ONNX -> simplified -> FP16 / INT8 Q/DQ -> parity -> sidecars (-> engine)."""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from edgefuse.errors import CheckpointError, ConfigError
from edgefuse.export import parity as par
from edgefuse.export._io import StageCallback, atomic_path, shown_from_staging, stage
from edgefuse.files import ensure_writable_dir, file_sha256, write_json_atomic
from edgefuse.export.calibration import CalibrationSet, cache_key, to_feeds
from edgefuse.export.config import ExportConfig
from edgefuse.export.fp16 import convert_fp16
from edgefuse.export.int8 import QUANT_OPS, quantize_int8
from edgefuse.runtime.sidecars import write_sidecar
from edgefuse.files import staged_dir
from edgefuse.export.onnx import check_exportable, export_onnx, size_rule
from edgefuse.export.simplify import simplify_onnx

logger = logging.getLogger(__name__)


@dataclass
class ModelSource:
    """The model to export and where its weights came from."""

    model: nn.Module
    name: str
    architecture: str
    checkpoint: str | None
    checkpoint_sha256: str | None
    trained: bool
    config: dict[str, Any] = field(default_factory=dict)  # the card's constructor options (e.g. ir_black_level)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "architecture": self.architecture, "config": dict(self.config),
                "checkpoint": self.checkpoint, "checkpoint_sha256": self.checkpoint_sha256, "trained": self.trained,
                "params": sum(p.numel() for p in self.model.parameters())}


@dataclass
class ExportReport:
    """What ``run_export`` wrote and measured."""

    name: str
    artefacts: dict[str, Path] = field(default_factory=dict)
    sidecars: dict[str, Path] = field(default_factory=dict)
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)
    engines: list[Path] = field(default_factory=list)
    tensorrt: str | None = None
    build_command: str = ""

    @property
    def failed_gates(self) -> list[str]:
        return [p for p, r in self.parity.items() if not r.get("passed", False)]


def resolve_model(cfg: ExportConfig) -> ModelSource:
    """The model to export: ``--model SPEC`` through the runtime's one resolver, or ``--weights CKPT``.

    ``--model`` takes what every command takes (a shipped name, a checkpoint; an architecture only
    with ``--random-weights``); neither flag is the shipped default student. ``--weights CKPT`` with
    ``--model ARCH`` checks that the checkpoint holds that architecture.

    Raises:
        ConfigError: an architecture without ``--random-weights``.
        CheckpointError: a checkpoint that does not load, or of another architecture than ``--model``.
    """
    from edgefuse.runtime import TorchLoader, resolve

    if cfg.weights is not None:
        art = resolve(cfg.weights)
        if art.kind != "checkpoint":
            raise ConfigError(f"--weights takes a .safetensors checkpoint, not {cfg.weights}")
        if cfg.model is not None:
            from edgefuse.models import MODELS

            if cfg.model in MODELS and MODELS.canonical(cfg.model) != art.architecture:
                raise CheckpointError(f"{cfg.weights} holds a {art.architecture!r} model, not {cfg.model!r}; "
                                      f"pick a {cfg.model} checkpoint")
    else:
        art = resolve(cfg.model, random_weights=cfg.random_weights)
    if art.kind not in ("checkpoint", "architecture"):
        raise ConfigError(f"{art.spec} is already an exported {art.kind} file; export takes weights "
                          "(a shipped name, a .safetensors checkpoint, or an architecture with --random-weights)")
    loaded = TorchLoader(art, text="raw", seed=cfg.seed)()  # a teacher is refused by check_exportable
    if not art.trained:
        logger.warning("exporting %s with random weights (--random-weights): for trying the toolchain, not for "
                       "deployment", art.name)
    name = cfg.name or (art.name if art.shipped or not art.trained else str(art.architecture))
    sha = (art.card or {}).get("sha256") or (file_sha256(art.path) if art.path else None)
    return ModelSource(loaded.module, name, str(art.architecture), str(art.path) if art.path else None, sha,
                       art.trained, dict((art.card or {}).get("config") or {}))


def _shapes(cfg: ExportConfig) -> dict[str, Any]:
    if cfg.dynamic is None:
        return {"static": [cfg.height, cfg.width]}
    lo, opt, hi = cfg.dynamic
    return {"min": list(lo), "opt": list(opt), "max": list(hi)}


def _build_hint(cfg: ExportConfig, onnx_path: Path) -> str:
    cmd = ["edgefuse", "build", "--onnx", str(onnx_path), "--precision", cfg.precision.value]
    if cfg.dla_core is not None:
        cmd += ["--dla", str(cfg.dla_core)]
    if cfg.workspace_mb is not None:
        cmd += ["--workspace", str(cfg.workspace_mb)]
    if cfg.timing_cache:
        cmd += ["--timing-cache", cfg.timing_cache]
    return shlex.join(cmd)


@dataclass
class _Run:
    """State shared by the stages of one export run."""

    cfg: ExportConfig
    out: Path  # the staging folder the stages write into
    src: ModelSource
    report: ExportReport
    on_stage: StageCallback | None
    calib: CalibrationSet | None = None
    frames: list[Any] | None = None
    groups: list[Any] = field(default_factory=list)
    reference: Any = None  # the PyTorch FP32 outputs on the parity pairs (a runtime.compare.Comparison)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    simplifier: str = "skipped (--no-simplify)"
    final: Path | None = None  # the output folder the staged files move into when every stage succeeded

    def path(self, precision: str) -> Path:
        return self.out / (f"{self.src.name}.onnx" if precision == "fp32" else f"{self.src.name}_{precision}.onnx")

    def parity_reference(self) -> Any:
        """The PyTorch FP32 outputs on every parity pair, computed once (the INT8 search and parity share them)."""
        if self.reference is None:
            self.reference = par.add_reference(self.src.model, self.groups)
        return self.reference


def run_export(cfg: ExportConfig, on_stage: StageCallback | None = None) -> ExportReport:
    """Run every export stage for ``cfg``; each artefact is written atomically with a sidecar.

    Raises:
        ConfigError, DataError, CheckpointError: bad options, calibration or parity data or
            checkpoint, all detected before the first artefact is written.
        ExportError: a failed export, simplification, FP16 or INT8 stage.
        OutputError: a full disk or an unwritable folder.

    Every artefact, sidecar and the manifest are written into a staging folder and moved over a
    previous export only when all stages succeeded: a failed re-export keeps the old files.
    """
    src = resolve_model(cfg)  # a spec that does not resolve leaves no output folder behind
    check_exportable(src.model, list(cfg.dynamic) if cfg.dynamic is not None else [(cfg.height, cfg.width)])
    out = ensure_writable_dir(cfg.out)
    run = _Run(cfg, out, src, ExportReport(src.name), on_stage, final=out)
    if cfg.calib:
        with stage("calib", on_stage) as st:
            run.calib = CalibrationSet.open(cfg.calib, cfg.calib_min_pairs)
            c = run.calib
            st.note = f"{len(c.pairs)} pairs in {c.folder} readable, fingerprint {c.fingerprint[:12]}"
    # every input is read and checked before the first file is written
    run.frames = run.calib.frames(cfg.export_size, cfg.calib_samples, cfg.seed) if run.calib else None
    run.groups = [par.load_parity_pairs(f, cfg.parity_pairs, cfg.export_size) for f in (cfg.parity or (None,))]
    wanted = [p.value for p in cfg.precision.artefacts()]
    with staged_dir(out) as staging:
        run.out, run.on_stage = staging, shown_from_staging(on_stage, staging, out)
        _onnx_stages(run)
        if "fp16" in wanted:
            _fp16_stage(run)
        if "int8" in wanted:
            _int8_stage(run)
        _parity_stage(run)
        _manifest_stage(run)
    run.out = out
    report = run.report
    report.artefacts = {p: out / path.name for p, path in report.artefacts.items()}
    report.sidecars = {p: out / path.name for p, path in report.sidecars.items()}
    _engine_stage(cfg, report, out, on_stage)
    return report


def _onnx_stages(run: _Run) -> None:
    cfg, path = run.cfg, run.path("fp32")
    with stage("onnx", run.on_stage) as st:
        st.path = export_onnx(run.src.model, path, cfg.height, cfg.width, cfg.dynamic, cfg.opset)
        dyn = cfg.dynamic
        shape = "dynamic " + ":".join(f"{h}x{w}" for h, w in dyn) if dyn else f"static {cfg.height}x{cfg.width}"
        st.note = f"opset {cfg.opset}, {shape}"
    if cfg.simplify:
        with stage("simplify", run.on_stage) as st:
            run.simplifier = simplify_onnx(path)
            st.path, st.note = path, run.simplifier
    run.report.artefacts["fp32"] = path


def _fp16_stage(run: _Run) -> None:
    with stage("fp16", run.on_stage) as st:
        # two real frames bound the activations well enough; each is a full forward per chunk of outputs
        feeds = run.frames[:2] if run.frames else [to_feeds(p.vis, p.ir) for _, group in run.groups for p in group][:2]
        res = convert_fp16(run.path("fp32"), run.path("fp16"), feeds, run.cfg.fp16_max_abs, run.cfg.threads)
        st.path = res.path
        n = len(res.kept_nodes)
        st.note = f"{n} node{'s' * (n != 1)} kept FP32 ({', '.join(res.kept_ops) or 'no fragile ops'})"
        run.extra["fp16"] = {"fp16": {"kept_fp32_ops": res.kept_ops, "kept_fp32_nodes": res.kept_nodes,
                                      "range_limit": run.cfg.fp16_max_abs, "io": "float32"}}
        run.report.artefacts["fp16"] = res.path


def _int8_stage(run: _Run) -> None:
    cfg, calib, size = run.cfg, run.calib, run.cfg.export_size
    if calib is None or run.frames is None:  # ExportConfig refuses int8 without --calib
        raise ConfigError("INT8 needs --calib DIR")
    with stage("int8", run.on_stage) as st:
        key = cache_key(model=file_sha256(run.path("fp32")), data=calib.fingerprint, shape=size,
                        method=cfg.calib_method, samples=cfg.calib_samples, seed=cfg.seed)
        cache = ensure_writable_dir((run.final or run.out) / "calib_cache", "calibration cache folder") / f"{run.src.name}_{key}.json"
        fp16_kept = list(run.extra.get("fp16", {}).get("fp16", {}).get("kept_fp32_nodes", {}))
        # the search scores what the parity gate reads: the parity pairs against the PyTorch FP32 model
        res = quantize_int8(run.path("fp32"), run.path("int8"), run.frames, cfg.calib_method, cache,
                            psnr_target=cfg.psnr_target, max_fp32_nodes=cfg.max_fp32_nodes,
                            fp16_dst=run.path("int8_fp16"), fp16_keep=fp16_kept,
                            score_pairs=[p for _, group in run.groups for p in group],
                            reference=run.parity_reference() if cfg.psnr_target is not None else None,
                            threads=cfg.threads)
        st.path = res.path
        n = len(res.kept_fp32)
        kept = f"{n} node{'s' * (n != 1)} kept FP32" + (f" ({', '.join(res.kept_fp32)})" if res.kept_fp32 else "")
        psnr = f", parity-set PSNR {res.psnr_db:.1f} dB (FP16 Q/DQ graph)" if res.psnr_db is not None else ""
        st.note = (f"{cfg.calib_method}, {len(calib.pairs)} pairs/{cfg.calib_samples} views, cache "
                   f"{'hit' if res.cache_hit else 'written'}, {kept}{psnr}; + {res.fp16_path.name}")  # type: ignore[union-attr]
        run.extra["int8"] = {"int8": {
            "scheme": "Q/DQ, symmetric signed INT8 activations and weights, per-channel weights, float bias",
            "quantized_op_types": list(QUANT_OPS),
            "calibration": {"dir": str(calib.folder), "pairs": len(calib.pairs), "samples": cfg.calib_samples,
                            "method": cfg.calib_method, "fingerprint": calib.fingerprint, "seed": cfg.seed,
                            "cache": res.cache, "cache_hit": res.cache_hit, "cache_key": key},
            "psnr_target_db": cfg.psnr_target, "target_met": res.target_met, "kept_fp32_nodes": res.kept_fp32,
            "search": res.steps, "ranking": res.ranking,
            "sensitivity_db": {k: round(v, 3) for k, v in list(res.sensitivity.items())[:32]},
            "scored_graph": run.path(res.scored).name if res.psnr_db is not None else None,
            "high_precision": "fp32",
            "psnr_db_fp32_elsewhere": res.psnr_db_fp32_elsewhere,
        }}
        run.extra["int8_fp16"] = {"int8": {**run.extra["int8"]["int8"], "high_precision": "fp16",
                                           "kept_fp32_nodes": res.kept_fp32, "fp16_kept_fp32_nodes": fp16_kept}}
        run.report.artefacts["int8"] = res.path
        run.report.artefacts["int8_fp16"] = res.fp16_path  # type: ignore[assignment]


def _parity_stage(run: _Run) -> None:
    report = run.report
    with stage("parity", run.on_stage) as st:
        pairs = [p for _, group in run.groups for p in group]
        reference = run.parity_reference()
        for p, path in report.artefacts.items():
            report.parity[p] = par.measure(path, run.groups, p, reference, run.cfg.threads)
        st.note = f"{len(pairs)} pairs from {', '.join(str(r) for r, _ in run.groups)}: " + "; ".join(
            par.summary(p, r) for p, r in report.parity.items())
        st.ok = not report.failed_gates


def _manifest_stage(run: _Run) -> None:
    cfg, report = run.cfg, run.report
    with stage("manifest", run.on_stage) as st:
        rule = {"multiple": size_rule(run.src.model),
                "note": "height and width must be multiples of this; pad frames up (reflect) and crop"}
        for p, path in report.artefacts.items():
            report.sidecars[p] = write_sidecar(
                path, kind="onnx", precision="int8" if p == "int8_fp16" else p, model=run.src.to_dict(), shapes=_shapes(cfg), size_rule=rule,
                simplifier=run.simplifier, parity=report.parity.get(p), **run.extra.get(p, {}),
            )
        summary = {"config": cfg.to_dict(), "model": run.src.to_dict()}
        write_json_atomic(run.out / f"{run.src.name}.export.json", summary)
        with atomic_path(run.out / "resolved_config.yaml") as tmp:
            tmp.write_text(cfg.to_yaml())
        st.note = ", ".join(str(s.name) for s in report.sidecars.values())


def _engine_stage(cfg: ExportConfig, report: ExportReport, out: Path, on_stage: StageCallback | None) -> None:
    """Build the TensorRT engine where TensorRT is installed; otherwise say how to build it on the device."""
    from edgefuse.engines import EngineConfig, build_engine, tensorrt_version

    top = cfg.precision.value
    report.build_command = _build_hint(cfg, report.artefacts[top])
    report.tensorrt = tensorrt_version()
    if report.tensorrt is None:
        return
    with stage("engine", on_stage) as st:
        plan = Path(cfg.engine_dir) / f"{report.name}_{top}.plan"
        ecfg = EngineConfig(precision=top, output=str(plan), workspace_mb=cfg.workspace_mb, dla_core=cfg.dla_core,
                            timing_cache=cfg.timing_cache or str(Path(cfg.engine_dir) / "timing.cache"))
        # the FP16 engine comes from the validated *_fp16.onnx (strongly typed, the default from TensorRT 10.12;
        # earlier 10.x builds the same graph with its FP32 islands pinned): never the FP32 graph + a flag
        st.path = build_engine(report.artefacts[top], ecfg)
        st.note = f"TensorRT {report.tensorrt}"
        report.engines.append(st.path)
