"""``edgefuse list``: what methods and metrics this install knows."""

from __future__ import annotations

import click

from edgefuse.fusion import DEFAULT_METHOD, METHODS
from edgefuse.metrics.registry import DEFAULT_METRICS, METRICS


@click.command("list")
def list_() -> None:
    """List fusion methods and metrics."""
    click.echo("fusion methods:")
    for name in METHODS.names():
        click.echo(f"  {name}{'  (default)' if name == DEFAULT_METHOD else ''}")
    click.echo("metrics:")
    for name in DEFAULT_METRICS:
        info = METRICS.get(name)
        click.echo(f"  {name:8s} {'higher' if info.higher_is_better else 'lower'} is better")
