"""``edgefuse build``: only the TensorRT engine build, from an exported ONNX file."""

from __future__ import annotations

import click


@click.command("build")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="ONNX from `edgefuse export` (TensorRT 11: *_fp16.onnx / *_int8.onnx carry the precision).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp16", show_default=True)
@click.option("--out", "output", help="Plan file  [default: engines/<model>_<precision>.plan]")
@click.option("--dla", "dla_core", type=int, help="Build for this DLA core (FP16/INT8), GPU fallback on.")
@click.option("--workspace", "workspace_mb", type=int, help="Workspace memory pool limit, MiB.")
@click.option("--timing-cache", help="Timing cache file: read if present, written after the build.")
@click.option("--profile", metavar="MIN:OPT:MAX", help="H/W profile for dynamic graphs (default: the ONNX sidecar's).")
@click.option("--strongly-typed/--weakly-typed", "strongly_typed", default=None,
              help="Typing (default: strongly typed on TensorRT 11, builder flags on TensorRT 10).")
@click.option("--opt-level", "optimization_level", type=int, help="Builder optimization level 0-5.")
@click.option("--hardware-compat", type=click.Choice(["ampere_plus", "same_compute_capability"]),
              help="Build an engine that loads on other GPUs of that class (same_compute_capability: TRT >= 10.9).")
@click.option("--int8-high-precision", type=click.Choice(["fp16", "fp32"]),
              help="INT8: the type outside the Q/DQ pairs (default fp16: strongly typed builds take <model>_int8_fp16.onnx "
                   "beside <model>_int8.onnx; fp32 builds the FP32-elsewhere graph).")
@click.option("--dry-run", is_flag=True, help="Print the build plan (typing, flags, profiles, ...) and build nothing.")
@click.option("--trt-version", metavar="X.Y", help="With --dry-run: plan for this TensorRT version (default: installed).")
def build_cmd(onnx_path: str, dry_run: bool, trt_version: str | None, **options: object) -> None:
    """Build a TensorRT plan (plain, trtexec-loadable) and its sidecar JSON from an ONNX file."""
    from edgefuse.engines import EngineConfig, build_engine, format_plan, plan_for, tensorrt_version
    from edgefuse.errors import ConfigError
    from edgefuse.files import human_size

    cfg = EngineConfig(**options)  # type: ignore[arg-type]
    if trt_version and not dry_run:
        raise ConfigError("--trt-version only goes with --dry-run: a build uses the installed TensorRT")
    if dry_run:
        version = trt_version or tensorrt_version()
        if version is None:
            raise ConfigError("TensorRT is not installed here: pass --trt-version X.Y to plan for a version")
        click.echo(format_plan(plan_for(onnx_path, cfg, version)))
        return
    plan = build_engine(onnx_path, cfg)
    click.echo(f"wrote {plan} ({human_size(plan.stat().st_size)}) and {plan.name}.json")
