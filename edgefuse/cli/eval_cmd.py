"""``edgefuse eval``: metrics tables for fusion methods and folders of fused images."""

from __future__ import annotations

from pathlib import Path

import click

from edgefuse.cli.progress import progress
from edgefuse.data.suite import reference_pairs
from edgefuse.cli.outputs import check_outputs
from edgefuse.errors import ConfigError
from edgefuse.evaluation import report
from edgefuse.evaluation.runner import columns_from_args, count_steps, evaluate_dataset
from edgefuse.fusion import check_method, method_names
from edgefuse.metrics.registry import DEFAULT_METRICS
from edgefuse.resources import SAMPLE_SETS, sample_dir


@click.command("eval")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset folder with ir/ + vi/ (or mri/ + other/).")
@click.option("--sample", type=click.Choice(SAMPLE_SETS),
              help="Evaluate on a sample set bundled with the package instead of --data: ivf or medical.")
@click.option("--method", "-m", "methods", multiple=True,
              help=f"Fuse first with a method, shipped model or checkpoint (repeatable): {', '.join(method_names())}.")
@click.option("--fused", multiple=True, metavar="[LABEL=]DIR",
              help="Folder of fused images named like the pairs (repeatable).")
@click.option("--metrics", default=",".join(DEFAULT_METRICS), show_default=True,
              help="Comma-separated metric names.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write one row per image and entry.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write means and stds as JSON.")
@click.option("--grid", "grid_path", type=click.Path(path_type=Path), help="Write a PNG: IR | visible | entries.")
@click.option("--grid-pairs", default=4, show_default=True, help="Pairs shown in the grid.")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="Clean folder a degraded --data suite was built from: score against the clean sources, "
                   "per degradation type.")
def eval_(data: Path | None, sample: str | None, methods: tuple[str, ...], fused: tuple[str, ...], metrics: str,
          csv_path: Path | None, json_path: Path | None, grid_path: Path | None, grid_pairs: int,
          reference: Path | None) -> None:
    """Evaluate fusion methods (--method) and/or fused folders (--fused) on a dataset or a bundled sample set.

    \b
    edgefuse fuse --sample ivf -o out/fused && edgefuse eval --sample ivf --fused out/fused -m max
    """
    if data is not None and sample is not None:
        raise ConfigError("use either --data DIR or --sample NAME, not both")
    if data is None and sample is None:
        raise click.UsageError("give the pairs to score: --data DIR or --sample NAME")
    if sample is not None:
        with sample_dir(sample) as folder:
            _evaluate(folder, methods, fused, metrics, csv_path, json_path, grid_path, grid_pairs, reference)
    else:
        assert data is not None
        _evaluate(data, methods, fused, metrics, csv_path, json_path, grid_path, grid_pairs, reference)


def _evaluate(data: Path, methods: tuple[str, ...], fused: tuple[str, ...], metrics: str,
              csv_path: Path | None, json_path: Path | None, grid_path: Path | None, grid_pairs: int,
              reference: Path | None) -> None:
    columns = columns_from_args(methods, fused)
    check_outputs(csv_path, json_path, grid_path, grid_pairs)  # before any computing
    for col in columns:
        if col.method:
            check_method(col.method)
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    if reference is not None:
        reference_pairs(data, reference)  # names and sizes checked before any fusing
    with progress(count_steps(data, columns), "eval") as bar:
        result = evaluate_dataset(data, columns, names, keep_samples=grid_pairs if grid_path else 0,
                                  on_step=bar.update, reference=reference)
    click.echo(report.format_table(result))
    for path, writer in ((csv_path, report.write_csv), (json_path, report.write_json),
                         (grid_path, report.write_grid)):
        if path is not None:
            click.echo(f"wrote {writer(result, path)}")
