"""The ONNX Runtime default: one export per checkpoint hash, reused; ``fuse`` on folders and ``stream`` use it."""

from __future__ import annotations

import pytest

from edgefuse import runtime_cache


@pytest.mark.skipif(not runtime_cache.ort_available(), reason="onnx/onnxruntime not installed (pip install .[ort])")
def test_export_is_cached_by_checkpoint_hash(monkeypatch):
    first = runtime_cache.cached_onnx()
    assert first is not None and first.suffix == ".onnx" and first.is_file()
    mtime = first.stat().st_mtime_ns
    assert runtime_cache.cached_onnx() == first and first.stat().st_mtime_ns == mtime  # no second export
    from edgefuse.fusion import DEFAULT_MODEL, open_model
    from edgefuse.runtime import resolve

    art = resolve(None)
    assert runtime_cache.file_hash(art.path) in first.name
    # the one "fastest path" decision: weights on the CPU -> the cached export in ONNX Runtime
    fast = open_model(DEFAULT_MODEL)
    assert fast.name == "onnxruntime" and fast.artefact == str(first)
    assert open_model(DEFAULT_MODEL, fastest=False).name == "torch"
    assert runtime_cache.cached_onnx(resolve("edge_teacher_ivf")) is None  # a teacher's text prior is not exported
    monkeypatch.setenv("EDGEFUSE_BACKEND", "torch")
    assert runtime_cache.cached_onnx() is None
    assert open_model(DEFAULT_MODEL).name == "torch"
