"""Export-stage plumbing: the atomic writer that refuses an empty result, and stage timing/progress."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefuse.errors import ExportError
from edgefuse.files import atomic_path as files_atomic_path
from edgefuse.files import human_size

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` only on success.

    The package's one atomic writer (:func:`edgefuse.files.atomic_path`), plus the export rule
    that a stage which wrote nothing fails: a failed or interrupted stage never leaves a file
    under the final name, and a previous file there stays as it was.
    """
    def nonempty(tmp: Path) -> None:
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ExportError(f"the stage wrote nothing for {final}; no file was created")

    with files_atomic_path(final, check=nonempty) as tmp:
        yield tmp


@dataclass
class StageResult:
    """One finished pipeline stage: what it made, how long it took, and a short note."""

    name: str
    seconds: float = 0.0
    path: Path | None = None
    note: str = ""
    ok: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    known_size: int | None = None  # set when ``path`` names where a staged file will be, not where it is

    @property
    def size(self) -> int | None:
        if self.known_size is not None:
            return self.known_size
        return self.path.stat().st_size if self.path is not None and self.path.is_file() else None

    def line(self) -> str:
        """The one line the CLI prints for this stage."""
        parts = [f"{self.name:<8}", f"{self.seconds:6.1f} s"]
        if self.path is not None:
            size = self.size
            parts.append(f"{self.path}" + (f"  {human_size(size)}" if size is not None else ""))
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)


StageCallback = Callable[[StageResult], None]


def shown_from_staging(on_stage: StageCallback | None, staging: Path, final: Path) -> StageCallback | None:
    """Wrap ``on_stage`` so results name the final path of a staged file (with the staged file's size)."""
    if on_stage is None:
        return None

    def show(result: StageResult) -> None:
        p = result.path
        if p is not None and staging in p.parents:
            result = dataclasses.replace(result, path=final / p.relative_to(staging), known_size=result.size)
        on_stage(result)

    return show


@contextlib.contextmanager
def stage(name: str, on_stage: StageCallback | None = None) -> Iterator[StageResult]:
    """Time a stage; on success log it and hand the result to ``on_stage``."""
    result = StageResult(name)
    start = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - start
    logger.debug("stage %s: %s", name, result.line())
    if on_stage is not None:
        on_stage(result)
