"""Checks of ``edgefuse eval`` output options made before any pair is read or fused."""

from __future__ import annotations

from pathlib import Path

from edgefuse.data.images import IMAGE_SUFFIXES
from edgefuse.errors import ConfigError
from edgefuse.files import check_output_path


def check_outputs(csv_path: Path | None, json_path: Path | None, grid_path: Path | None, grid_pairs: int) -> None:
    """Raise ``ConfigError`` for an unusable ``--csv``/``--json``/``--grid`` path or ``--grid-pairs`` < 1."""
    if grid_path is not None and grid_pairs < 1:
        raise ConfigError(f"--grid-pairs must be at least 1, got {grid_pairs}")
    given = [(p, opt) for p, opt in ((csv_path, "--csv"), (json_path, "--json"), (grid_path, "--grid")) if p]
    for p, opt in given:
        check_output_path(p, opt, IMAGE_SUFFIXES if opt == "--grid" else ())
    resolved = [p.resolve() for p, _ in given]
    if len(set(resolved)) != len(resolved):
        raise ConfigError("--csv, --json and --grid must name different files")
