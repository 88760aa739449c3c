"""``edgefuse bench``: latency, throughput, stages, memory and accuracy of one artefact, or a comparison."""

from __future__ import annotations

import sys
from typing import Any

import click
from tqdm import tqdm

from edgefuse.errors import ConfigError


class _Bar:
    """A tqdm bar per phase (warm-up, timed) on stderr, only on a terminal."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=phase, unit="it", leave=False, disable=not sys.stderr.isatty())
        assert self.bar is not None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.phase = None, ""


@click.command("bench")
@click.argument("artefacts", nargs=-1)
@click.option("--engine", help="TensorRT plan (.plan/.engine).")
@click.option("--onnx", help="ONNX file (ONNX Runtime).")
@click.option("--model", help="Shipped model name, .safetensors checkpoint, .onnx or .plan; an architecture with "
              "--random-weights.")
@click.option("--random-weights", is_flag=True, help="Let --model be an architecture name (seeded random weights: "
              "timing only).")
@click.option("--compare", is_flag=True, help="Bench every ARTEFACT (paths or model names) and print one table.")
@click.option("--backend", help="Force a backend: torch, onnxruntime (ort), tensorrt (trt).")
@click.option("--device", help="cpu/cuda (torch), cpu/cuda/tensorrt (ONNX Runtime EP), cuda (TensorRT).")
@click.option("--precision", type=click.Choice(["fp32", "fp16"]), help="torch only  [default: fp32]")
@click.option("--height", type=int, help="Input height  [default: the artefact's static size, else 480]")
@click.option("--width", type=int, help="Input width  [default: the artefact's static size, else 640]")
@click.option("--batch", type=int, default=1, show_default=True, help="Pairs per call.")
@click.option("--warmup", type=int, default=5, show_default=True,
              help="Untimed calls before timing (keep >= 2: ONNX Runtime allocates its planned memory in the 2nd).")
@click.option("--iters", type=int, help="Timed calls  [default: 50]")
@click.option("--seconds", type=float, help="Time calls for this long instead of --iters.")
@click.option("--threads", type=int, default=0, show_default=True, help="CPU threads (0 = runtime default).")
@click.option("--data", type=click.Path(), help="Folder of real pairs (ir/ + vi/): inputs and accuracy vs FP32.")
@click.option("--accuracy-pairs", type=int, default=8, show_default=True, help="Pairs for the accuracy check.")
@click.option("--channels-last", is_flag=True, help="torch: NHWC memory layout.")
@click.option("--cuda-graphs", is_flag=True, help="torch on CUDA: capture and replay the forward pass.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the result(s) as JSON.")
def bench_cmd(artefacts: tuple[str, ...], compare: bool, json_path: str | None, **flags: Any) -> None:
    """Benchmark a model, ONNX file or TensorRT engine (p50/p90/p99, pairs/s, stages, memory, accuracy)."""
    from edgefuse.bench import BenchConfig, format_compare, format_report, run_bench, run_compare, write_json

    if artefacts and not compare:
        if len(artefacts) > 1:
            raise ConfigError(f"{len(artefacts)} artefacts given: pass --compare to benchmark several in one run")
        if flags["engine"] or flags["onnx"] or flags["model"]:
            raise ConfigError(f"pass {artefacts[0]} or --engine/--onnx/--model, not both")
        flags["model"] = artefacts[0]  # routed to its backend by suffix
    cfg = BenchConfig(**flags)
    bar = _Bar()
    try:
        if compare:
            def done(name: str, r: dict[str, Any]) -> None:
                bar.close()
                lat = r["latency_ms"]
                click.echo(f"{name}: p50 {lat['p50']:.2f} ms, {r['throughput_fps']:.2f} pairs/s", err=True)

            doc = run_compare(list(artefacts), cfg, bar, done)
            click.echo(format_compare(doc))
        else:
            doc = run_bench(cfg, bar)
            bar.close()
            from edgefuse.runtime import resolve

            click.echo(resolve(cfg.engine or cfg.onnx or cfg.model, random_weights=cfg.random_weights).summary(),
                       err=True)
            click.echo(format_report(doc))
    finally:
        bar.close()
    if json_path:
        click.echo(f"wrote {write_json(doc, json_path)}")
