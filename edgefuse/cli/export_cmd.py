"""``edgefuse export``: a checkpoint to ONNX, FP16 and INT8 Q/DQ graphs with parity and sidecars."""

from __future__ import annotations

from typing import Any

import click

from edgefuse.errors import EXIT_FAILURE, ConfigError


@click.command("export")
@click.option("--model", help="Shipped model name or .safetensors checkpoint (default: the shipped student); an "
              "architecture with --random-weights; with --weights, the architecture the checkpoint must have.")
@click.option("--random-weights", is_flag=True, default=None,
              help="Let --model be an architecture name (seeded random weights: for trying the toolchain).")
@click.option("--weights", type=click.Path(dir_okay=False), help="Checkpoint (.safetensors with its .json card).")
@click.option("--name", help="Base name of the artefacts (default: shipped name or architecture).")
@click.option("--height", type=int, help="Static input height  [default: 480]")
@click.option("--width", type=int, help="Static input width  [default: 640]")
@click.option("--dynamic", metavar="MIN:OPT:MAX", help="Dynamic H/W, each HxW, e.g. 256x320:480x640:720x1280.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]),
              help="Highest precision to make; fp16 also writes fp32, int8 also fp32+fp16  [default: fp16]")
@click.option("--calib", type=click.Path(file_okay=False), help="Calibration pairs (ir/ + vi/), never a test split.")
@click.option("--calib-method", type=click.Choice(["minmax", "entropy", "percentile"]),
              help="INT8 calibration  [default: minmax]")
@click.option("--calib-samples", type=int, help="Calibration views (random crops/resizes)  [default: 32]")
@click.option("--calib-min-pairs", type=int, help="Refuse folders with fewer pairs  [default: 8]")
@click.option("--psnr-target", type=float,
              help="Keep the worst INT8 layers in FP32 until this PSNR (dB)  [default: 32]")
@click.option("--max-fp32-nodes", type=int, help="At most this many layers kept FP32 for the target  [default: 16]")
@click.option("--parity", "parity_dir", type=click.Path(file_okay=False), multiple=True,
              help="Pairs for the parity check, repeatable (default: the bundled samples).")
@click.option("--parity-pairs", type=int, help="Pairs used for parity  [default: 4]")
@click.option("--opset", type=int, help="ONNX opset (>= 17)  [default: 17]")
@click.option("--no-simplify", is_flag=True, default=None, help="Keep the graph as exported.")
@click.option("--out", help="Output folder  [default: export/out]")
@click.option("--recipe", help="Recipe shipped with the package (jetson_orin_fp16, desktop_int8; a NAME in "
              "./export/NAME.yaml comes first) or a .yaml path; flags override it.")
@click.option("--workspace", "workspace_mb", type=int, help="TensorRT workspace MiB (engine stage).")
@click.option("--dla", "dla_core", type=int, help="TensorRT DLA core (engine stage).")
@click.option("--timing-cache", help="TensorRT timing cache file (engine stage).")
@click.option("--threads", type=int, help="ONNX Runtime threads (0 = default).")
def export_cmd(recipe: str | None, no_simplify: bool | None, parity_dir: tuple[str, ...], **flags: Any) -> None:
    """Export a fusion model to ONNX (+ FP16, INT8 Q/DQ), check parity, and build the engine where TensorRT is."""
    from edgefuse.export import ExportConfig, run_export
    from edgefuse.export import StageResult

    if flags.get("dynamic") and (flags.get("height") or flags.get("width")):
        raise ConfigError("--dynamic MIN:OPT:MAX and --height/--width exclude each other; pass one of them")
    if no_simplify:
        flags["simplify"] = False
    flags["parity"] = parity_dir or None
    cfg = ExportConfig.from_recipe(recipe, **flags)

    def show(result: StageResult) -> None:
        click.echo(result.line())

    report = run_export(cfg, on_stage=show)
    from edgefuse.runtime import resolve

    click.echo(resolve(cfg.weights or cfg.model, random_weights=cfg.random_weights).summary(), err=True)
    if report.tensorrt is None:
        click.echo(f"TensorRT is not installed here, so no engine was built; on the device run: {report.build_command}")
    for p in report.failed_gates:
        click.echo(f"parity gate failed for {p}: {report.parity[p]['gate']} (see {report.sidecars[p]})", err=True)
    if report.failed_gates:
        click.get_current_context().exit(EXIT_FAILURE)
