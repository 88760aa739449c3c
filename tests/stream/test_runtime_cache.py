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
    from edgefuse.runtime.backends.torch_backend import resolve_model

    _, _, ckpt = resolve_model(None)
    assert runtime_cache.file_hash(__import__("pathlib").Path(ckpt)) in first.name
    from edgefuse.cli.fuse_cmd import _fastest
    from edgefuse.fusion import DEFAULT_MODEL

    assert _fastest(DEFAULT_MODEL, None) == str(first) and _fastest("max", None) == "max"
    assert _fastest(DEFAULT_MODEL, "cuda") == DEFAULT_MODEL
    monkeypatch.setenv("EDGEFUSE_BACKEND", "torch")
    assert runtime_cache.cached_onnx() is None
