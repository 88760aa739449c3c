"""``edgefuse degrade``: seeded degraded copies of a dataset folder (the robustness suite)."""

from __future__ import annotations

from pathlib import Path

import click

from edgefuse.cli.progress import progress
from edgefuse.data.degrade import DEGRADATIONS, parse_severities, parse_types
from edgefuse.data.pairs import find_pairs
from edgefuse.data.suite import build_suite, task_of


@click.command("degrade")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Clean dataset folder with ir/ + vi/ (or mri/ + other/).")
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True,
              help="Folder for the degraded pairs and manifest.json (not inside --data).")
@click.option("--type", "types", default="all", show_default=True,
              help=f"Comma-separated degradation types, or all: {', '.join(DEGRADATIONS)}.")
@click.option("--severity", default="all", show_default=True, help="Comma-separated severities (1, 2, 3) or all.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Base seed of every draw.")
def degrade_cmd(data: Path, out: Path, types: str, severity: str, seed: int) -> None:
    """Write degraded copies of every pair: one per type and severity, with a manifest."""
    task = task_of(data)
    kinds = parse_types(types, task)
    sev = parse_severities(severity)
    n = len(find_pairs(data)) * len(kinds) * len(sev)
    with progress(n, "degrade") as bar:
        manifest = build_suite(data, out, kinds, sev, seed, on_step=bar.update)
    click.echo(f"wrote {n} degraded pairs ({', '.join(kinds)}; severity {','.join(map(str, sev))}; "
               f"seed {seed}) to {out}/ and {manifest}")
