"""``edgefuse list``: models (params, GFLOPs), fusion methods, metrics and bundled samples of this install."""

from __future__ import annotations

import click

from edgefuse.data.pairs import find_pairs
from edgefuse.fusion import DEFAULT_METHOD, METHODS, shipped_models
from edgefuse.metrics.registry import DEFAULT_METRICS, METRICS
from edgefuse.resources import SAMPLE_SETS, sample_dir


@click.command("list")
@click.option("--height", default=480, show_default=True, help="Height for the GFLOPs column.")
@click.option("--width", default=640, show_default=True, help="Width for the GFLOPs column.")
@click.option("--no-flops", is_flag=True, help="Skip counting GFLOPs (a few seconds for the DTPF models).")
def list_(height: int, width: int, no_flops: bool) -> None:
    """List model architectures, fusion methods (classical and shipped), metrics and bundled samples."""
    from edgefuse.models import MODELS
    from edgefuse.models.profile import model_summary

    click.echo(f"models (GFLOPs = 2 x MACs for one {height}x{width} pair, at the size the model computes on):")
    click.echo(f"  {'name':14s} {'params':>12s} {'GFLOPs':>9s}  text")
    for name in MODELS.names():
        s = model_summary(name, height, width, flops=not no_flops)
        flops = "-" if s["gflops"] is None else f"{s['gflops']:.2f}"
        click.echo(f"  {name:14s} {s['params']:>12,d} {flops:>9s}  {'yes' if s['text_dim'] else 'no'}")
    click.echo("fusion methods:")
    for name in METHODS.names() + list(shipped_models()):
        kind = "shipped model" if name in shipped_models() else "classical"
        click.echo(f"  {name:14s} {kind}{'  (default)' if name == DEFAULT_METHOD else ''}")
    click.echo("metrics:")
    for name in DEFAULT_METRICS:
        info = METRICS.get(name)
        click.echo(f"  {name:8s} {'higher' if info.higher_is_better else 'lower'} is better")
    click.echo("bundled samples (edgefuse fuse/eval --sample NAME):")
    for name in SAMPLE_SETS:
        with sample_dir(name) as folder:
            n = len(find_pairs(folder))
            click.echo(f"  {name:8s} {n} pair{'' if n == 1 else 's'}  {folder}")
