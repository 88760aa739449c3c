"""Annotating a whole dataset folder, with a JSON-lines cache per dataset and annotator.

Cache file format (one JSON object per line, UTF-8, one line per pair, in pair order)::

    {"name": "00004N", "events": ["low_light", "ir_low_contrast"], "descriptions": null,
     "source": "rules", "annotator": "rules", "version": "1", "task": "ivf",
     "files": {"ir": [12345, 1700000000000000000], "vis": [23456, 1700000000000000000]}}

``events`` are vocabulary names (:mod:`edgefuse.text.events`), ``descriptions`` one string
per event or ``null``, ``source`` is ``rules``, ``vlm`` or ``fallback``, and ``files`` holds
the byte size and modification time (ns) of the IR and visible file. A line is reused when
the pair's name, sizes, times, task, annotator name and version all match and its source is
not ``fallback`` (so a chat model that was down is asked again next time).

Where the cache lives: the ``cache_path`` you give, or by default
``~/.cache/edgefuse/annotations/<first 12 hex digits of sha256(resolved root)>-<annotator>.jsonl``,
because shared data folders are often read-only. The file is replaced atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from edgefuse.data.images import write_bytes_atomic
from edgefuse.data.pairs import Pair, find_layout, find_pairs, load_pair
from edgefuse.errors import DataError
from edgefuse.text.annotate import Annotation, Annotator
from edgefuse.text.events import check_task
from edgefuse.files import sha256_hex

logger = logging.getLogger(__name__)

CACHE_DIR = Path("~/.cache/edgefuse/annotations")
_MEDICAL_GREY_FOLDERS = ("mri",)


def default_cache_path(root: str | os.PathLike[str], annotator_name: str) -> Path:
    """``~/.cache/edgefuse/annotations/<hash of the resolved root>-<annotator>.jsonl``."""
    digest = sha256_hex(str(Path(root).resolve()), 12)
    return CACHE_DIR.expanduser() / f"{digest}-{annotator_name}.jsonl"


def infer_task(root: str | os.PathLike[str]) -> str:
    """``"medical"`` for an ``mri/`` + ``other/`` dataset folder, else ``"ivf"``."""
    grey_dir, _ = find_layout(root)
    return "medical" if grey_dir.name in _MEDICAL_GREY_FOLDERS else "ivf"


def _file_stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _stamp(pair: Pair) -> dict[str, list[int]]:
    return {"ir": _file_stamp(pair.ir), "vis": _file_stamp(pair.vis)}


def read_cache_records(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The records of a cache file by pair name ({} if the file does not exist).

    Lines that are not JSON objects with the expected keys are skipped with one warning:
    a cache can always be rebuilt, so a damaged one must not stop a run.
    """
    p = Path(path)
    if not p.exists():
        return {}
    if p.is_dir():
        raise DataError(
            f"annotation cache {p} is a folder; give a file path such as {p / 'annotations.jsonl'}"
        )
    records: dict[str, dict[str, Any]] = {}
    bad = 0
    for line in p.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            Annotation.from_dict(rec)  # validates events/descriptions/source
            records[str(rec["name"])] = rec
        except (ValueError, KeyError, TypeError):
            bad += 1
    if bad:
        logger.warning("%s: skipped %d unreadable cache line(s); they will be re-annotated", p, bad)
    return records


def read_annotations(path: str | os.PathLike[str]) -> dict[str, Annotation]:
    """Annotations of a cache file by pair name, e.g. to feed a training data set."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"annotation file not found: {p}; create it with annotate_dataset()")
    return {name: Annotation.from_dict(rec) for name, rec in read_cache_records(p).items()}


def _reusable(
    rec: dict[str, Any] | None, stamp: dict[str, list[int]], annotator: Annotator, task: str
) -> bool:
    return (
        rec is not None
        and rec.get("files") == stamp
        and rec.get("annotator") == annotator.name
        and rec.get("version") == annotator.version
        and rec.get("task") == task
        and rec.get("source") != "fallback"
    )


def _record(pair: Pair, annotation: Annotation, annotator: Annotator, task: str, stamp: dict) -> dict:
    return {
        "name": pair.name,
        **annotation.to_dict(),
        "annotator": annotator.name,
        "version": annotator.version,
        "task": task,
        "files": stamp,
    }


def annotate_dataset(
    root: str | os.PathLike[str],
    annotator: Annotator,
    cache_path: str | os.PathLike[str] | None = None,
    task: str | None = None,
    sixteen_bit: str = "scale",
) -> dict[str, Annotation]:
    """Annotate every pair of a dataset folder, reusing and updating the cache file.

    Args:
        root: dataset folder with ``ir/`` + ``vi/`` (or ``mri/`` + ``other/``).
        annotator: e.g. :class:`~edgefuse.text.annotate.RuleAnnotator` or
            :class:`~edgefuse.text.vlm.VLMAnnotator`.
        cache_path: JSON-lines cache file; default :func:`default_cache_path`.
        task: ``"ivf"`` or ``"medical"``; ``None`` infers it from the folder layout.
        sixteen_bit: how 16-bit images are read (see :func:`edgefuse.data.read_ir`).

    Returns:
        Annotations by pair name, in pair order.
    """
    pairs = find_pairs(root)
    task = check_task(task) if task is not None else infer_task(root)
    path = Path(cache_path) if cache_path is not None else default_cache_path(root, annotator.name)
    cached = read_cache_records(path)
    start = time.perf_counter()
    result: dict[str, Annotation] = {}
    lines: list[str] = []
    fresh = 0
    for pair in pairs:
        stamp = _stamp(pair)
        rec = cached.get(pair.name)
        if rec is not None and _reusable(rec, stamp, annotator, task):
            annotation = Annotation.from_dict(rec)
        else:
            annotation = annotator.annotate(load_pair(pair, sixteen_bit), task)
            rec = _record(pair, annotation, annotator, task, stamp)
            fresh += 1
        result[pair.name] = annotation
        lines.append(json.dumps(rec, ensure_ascii=False))
    if fresh or set(cached) != set(result):
        write_bytes_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    logger.info(
        "annotated %s with %s: %d new, %d cached, %.2f s -> %s",
        root,
        annotator.name,
        fresh,
        len(pairs) - fresh,
        time.perf_counter() - start,
        path,
    )
    return result
