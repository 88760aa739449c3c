"""Degraded copies of a dataset folder (the robustness suite) and their manifest.

``build_suite`` writes, for every pair of a clean folder and every (type, severity), one
degraded pair ``NAME__TYPE_sK.png`` in the same layout (``ir/`` + ``vi/``, or ``mri/`` +
``other/``), plus ``manifest.json`` with the type, event, severity, seed and drawn parameters
of each pair. ``reference_pairs`` maps a suite back to its clean sources for full-reference
scoring (``edgefuse eval --reference``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgefuse.data.degrade import (
    DEGRADATIONS, MANIFEST_FORMAT, MANIFEST_NAME, check_severity, check_type, degrade_pair, pair_rng,
)
from edgefuse.data.images import write_bytes_atomic, write_image
from edgefuse.data.pairs import Pair, find_layout, find_pairs, load_pair
from edgefuse.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SEPARATOR = "__"


def task_of(root: str | os.PathLike[str]) -> str:
    """``medical`` for an ``mri/`` + ``other/`` folder, else ``ivf``."""
    return "medical" if find_layout(root)[0].name == "mri" else "ivf"


def degraded_name(name: str, kind: str, severity: int) -> str:
    return f"{name}{SEPARATOR}{kind}_s{severity}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def build_suite(
    data: str | os.PathLike[str], out: str | os.PathLike[str], types: Sequence[str], severities: Sequence[int],
    seed: int = 0, on_step: Callable[[], None] | None = None,
) -> Path:
    """Write the degraded copies of every pair of ``data`` into ``out``; return the manifest path.

    Everything is checked before the first file is written: the types fit the folder's task,
    the severities exist, every clean pair decodes, and ``out`` is neither ``data`` nor inside
    it (the sources are never overwritten).
    """
    task = task_of(data)
    for kind in types:
        check_type(kind, task)
    sev = [check_severity(s) for s in severities]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be an int >= 0")
    data_p, out_p = Path(data), Path(out)
    if _inside(out_p, data_p) or _inside(data_p, out_p):
        raise ConfigError(f"--out {out_p} overlaps --data {data_p}: write the suite to a separate folder")
    pairs = find_pairs(data_p)
    loaded = [load_pair(p) for p in pairs]  # decode all first: bad input fails before any write
    grey_dir, colour_dir = (d.name for d in find_layout(data_p))
    entries: list[dict[str, Any]] = []
    for pair in loaded:
        for kind in types:
            for s in sev:
                vis, ir, params = degrade_pair(pair.vis, pair.ir, kind, s, pair_rng(seed, pair.name, kind, s))
                name = degraded_name(pair.name, kind, s)
                write_image(out_p / grey_dir / f"{name}.png", ir)
                write_image(out_p / colour_dir / f"{name}.png", vis)
                entries.append({"name": name, "source": pair.name, "type": kind,
                                "event": DEGRADATIONS[kind].event, "side": DEGRADATIONS[kind].side,
                                "severity": s, "params": {k: round(v, 6) for k, v in params.items()}})
                if on_step:
                    on_step()
    manifest = {"format": MANIFEST_FORMAT, "source": str(data_p), "task": task, "seed": seed,
                "types": list(types), "severities": sev, "pairs": entries}
    path = out_p / MANIFEST_NAME
    write_bytes_atomic(path, (json.dumps(manifest, indent=1) + "\n").encode())
    logger.debug("wrote %d degraded pairs to %s", len(entries), out_p)
    return path


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a suite folder; DataError when it is missing or malformed."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{root} has no {MANIFEST_NAME}: it is not a suite written by `edgefuse degrade`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}") from e
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("pairs"), list):
        raise DataError(f"{path} is not an {MANIFEST_FORMAT} manifest")
    for entry in doc["pairs"]:
        if not isinstance(entry, dict) or not {"name", "source", "type", "severity"} <= set(entry):
            raise DataError(f"{path} has a malformed pair entry: {str(entry)[:80]}")
    return doc


def reference_pairs(degraded: str | os.PathLike[str], reference: str | os.PathLike[str]
                    ) -> tuple[dict[str, Pair], dict[str, dict[str, Any]]]:
    """Map each degraded pair name to its clean pair in ``reference`` and its manifest entry.

    Raises DataError (one line) when a degraded pair has no clean source of that name, when the
    suite lists pairs that are not on disk, or when a clean source differs in size from its
    degraded copy.
    """
    doc = read_manifest(degraded)
    entries = {e["name"]: e for e in doc["pairs"]}
    on_disk = {p.name for p in find_pairs(degraded)}
    clean = {p.name: p for p in find_pairs(reference)}
    missing_disk = sorted(set(entries) - on_disk)
    if missing_disk:
        raise DataError(f"{degraded}: the manifest lists {len(missing_disk)} pair(s) not on disk, e.g. "
                        f"{missing_disk[0]}; rebuild it with `edgefuse degrade`")
    unlisted = sorted(on_disk - set(entries))
    if unlisted:
        raise DataError(f"{degraded}: {len(unlisted)} pair(s) are not in its manifest, e.g. {unlisted[0]}")
    no_source = sorted({e["source"] for e in entries.values()} - set(clean))
    if no_source:
        raise DataError(f"--reference {reference} does not hold the clean pairs of this suite: no "
                        f"{no_source[0]!r} (and {len(no_source) - 1} more); pass the folder it was built from "
                        f"({doc.get('source')})")
    mapping = {name: clean[e["source"]] for name, e in entries.items()}
    _check_sizes(degraded, mapping)
    return mapping, entries


def _check_sizes(degraded: str | os.PathLike[str], mapping: dict[str, Pair]) -> None:
    import cv2

    deg = {p.name: p for p in find_pairs(degraded)}
    for name, ref in mapping.items():
        a = cv2.imread(str(deg[name].ir), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(ref.ir), cv2.IMREAD_UNCHANGED)
        if a is None or b is None or a.shape[:2] != b.shape[:2]:
            got = "unreadable" if a is None or b is None else f"{b.shape[1]}x{b.shape[0]} vs {a.shape[1]}x{a.shape[0]}"
            raise DataError(f"reference pair {ref.name!r} does not match degraded pair {name!r} ({got}); "
                            "pass the clean folder the suite was built from")
