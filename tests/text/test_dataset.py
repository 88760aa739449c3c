"""annotate_dataset: the JSON-lines cache, its reuse rules and its location."""

from __future__ import annotations

import json
import logging
import os

import pytest

from edgefuse.data.pairs import LoadedPair
from edgefuse.errors import DataError
from edgefuse.text import dataset as ds
from edgefuse.text.annotate import Annotation, RuleAnnotator
from edgefuse.text.dataset import annotate_dataset, default_cache_path, infer_task, read_annotations
from edgefuse.text.events import VOCABULARY
from tests.helpers import write_pair_dataset


class CountingAnnotator:
    """Rules, counting the pairs it really annotates."""

    name = "counting"
    version = "1"

    def __init__(self, source: str = "rules") -> None:
        self.calls: list[str] = []
        self.source = source

    def annotate(self, pair: LoadedPair, task: str = "ivf") -> Annotation:
        self.calls.append(pair.name)
        events = RuleAnnotator().annotate(pair, task).events
        return Annotation(events, None, self.source)


def test_cache_written_and_reused(tmp_path):
    root = write_pair_dataset(tmp_path / "data", ["a", "b", "c"])
    cache = tmp_path / "cache" / "ann.jsonl"
    annotator = CountingAnnotator()
    first = annotate_dataset(root, annotator, cache_path=cache)
    assert list(first) == ["a", "b", "c"] and annotator.calls == ["a", "b", "c"]
    lines = [json.loads(line) for line in cache.read_text().splitlines()]
    assert [rec["name"] for rec in lines] == ["a", "b", "c"]
    assert set(lines[0]) >= {
        "name",
        "events",
        "descriptions",
        "source",
        "annotator",
        "version",
        "task",
        "files",
    }
    assert lines[0]["annotator"] == "counting" and lines[0]["task"] == "ivf"

    mtime = cache.stat().st_mtime_ns
    again = annotate_dataset(root, annotator, cache_path=cache)
    assert again == first and annotator.calls == ["a", "b", "c"]  # nothing re-annotated
    assert cache.stat().st_mtime_ns == mtime  # and nothing rewritten
    assert read_annotations(cache) == first


def test_changed_file_is_reannotated(tmp_path):
    root = write_pair_dataset(tmp_path / "data", ["a", "b"])
    cache = tmp_path / "ann.jsonl"
    annotator = CountingAnnotator()
    annotate_dataset(root, annotator, cache_path=cache)
    target = root / "ir" / "b.png"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    annotate_dataset(root, annotator, cache_path=cache)
    assert annotator.calls == ["a", "b", "b"]


def test_removed_pair_leaves_the_cache(tmp_path):
    root = write_pair_dataset(tmp_path / "data", ["a", "b"])
    cache = tmp_path / "ann.jsonl"
    annotate_dataset(root, CountingAnnotator(), cache_path=cache)
    (root / "ir" / "b.png").unlink()
    (root / "vi" / "b.png").unlink()
    annotate_dataset(root, CountingAnnotator(), cache_path=cache)
    assert [json.loads(line)["name"] for line in cache.read_text().splitlines()] == ["a"]


def test_other_version_task_or_fallback_is_not_reused(tmp_path):
    root = write_pair_dataset(tmp_path / "data", ["a"])
    cache = tmp_path / "ann.jsonl"
    annotate_dataset(root, CountingAnnotator(), cache_path=cache)
    newer = CountingAnnotator()
    newer.version = "2"
    annotate_dataset(root, newer, cache_path=cache)
    assert newer.calls == ["a"]
    annotate_dataset(root, newer, cache_path=cache, task="medical")
    assert newer.calls == ["a", "a"]

    failing = CountingAnnotator(source="fallback")
    annotate_dataset(root, failing, cache_path=cache)
    annotate_dataset(root, failing, cache_path=cache)
    assert failing.calls == ["a", "a"]  # a fallback line is retried next time


def test_damaged_cache_lines_are_skipped(tmp_path, caplog):
    root = write_pair_dataset(tmp_path / "data", ["a", "b"])
    cache = tmp_path / "ann.jsonl"
    annotate_dataset(root, CountingAnnotator(), cache_path=cache)
    good = cache.read_text().splitlines()[1]
    cache.write_text("{not json\n" + good + "\n")
    annotator = CountingAnnotator()
    with caplog.at_level(logging.WARNING, logger="edgefuse.text.dataset"):
        annotate_dataset(root, annotator, cache_path=cache)
    assert annotator.calls == ["a"]
    assert "skipped 1 unreadable cache line" in caplog.text


def test_default_cache_location(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "CACHE_DIR", tmp_path / "home-cache")
    root = write_pair_dataset(tmp_path / "data", ["a"])
    path = default_cache_path(root, "rules")
    assert path.parent == tmp_path / "home-cache" and path.name.endswith("-rules.jsonl")
    assert default_cache_path(str(root) + "/.", "rules") == path  # the resolved root is hashed
    annotate_dataset(root, RuleAnnotator())
    assert path.is_file()


def test_task_inferred_from_layout(tmp_path):
    ivf = write_pair_dataset(tmp_path / "ivf", ["a"])
    med = write_pair_dataset(tmp_path / "med", ["a"], layout=("mri", "other"))
    assert infer_task(ivf) == "ivf" and infer_task(med) == "medical"
    annotations = annotate_dataset(med, RuleAnnotator(), cache_path=tmp_path / "m.jsonl")
    assert json.loads((tmp_path / "m.jsonl").read_text())["task"] == "medical"
    assert annotations["a"].events[0] in VOCABULARY["medical"]


def test_bad_cache_paths(tmp_path):
    root = write_pair_dataset(tmp_path / "data", ["a"])
    with pytest.raises(DataError, match="is a folder"):
        annotate_dataset(root, RuleAnnotator(), cache_path=tmp_path)
    with pytest.raises(DataError, match="annotation file not found"):
        read_annotations(tmp_path / "missing.jsonl")
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(DataError, match="a file is in the way"):
        annotate_dataset(root, RuleAnnotator(), cache_path=tmp_path / "blocker" / "ann.jsonl")
