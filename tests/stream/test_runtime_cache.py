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
    assert runtime_cache.cache_key(art.path) in first.name
    # the one "fastest path" decision: weights on the CPU -> the cached export in ONNX Runtime
    fast = open_model(DEFAULT_MODEL)
    assert fast.name == "onnxruntime" and fast.artefact == str(first)
    assert open_model(DEFAULT_MODEL, fastest=False).name == "torch"
    assert runtime_cache.cached_onnx(resolve("edge_teacher_ivf")) is None  # a teacher's text prior is not exported
    monkeypatch.setenv("EDGEFUSE_BACKEND", "torch")
    assert runtime_cache.cached_onnx() is None
    assert open_model(DEFAULT_MODEL).name == "torch"


def test_cache_key_follows_the_card_and_the_model_code(tmp_path, monkeypatch):
    """Same weights under another architecture (or changed model code) must not reuse a stale graph."""
    import json
    import shutil

    from edgefuse.runtime import resolve

    art = resolve(None)
    a, b = tmp_path / "a", tmp_path / "b"
    for d, arch in ((a, None), (b, "edge_nano_agc")):
        d.mkdir()
        shutil.copyfile(art.path, d / "model.safetensors")
        shutil.copyfile(art.path.with_suffix(".json"), d / "model.json")
        if arch:
            card = json.loads((d / "model.json").read_text())
            (d / "model.json").write_text(json.dumps({**card, "architecture": arch}))
    key_a, key_b = runtime_cache.cache_key(a / "model.safetensors"), runtime_cache.cache_key(b / "model.safetensors")
    assert key_a != key_b and key_a == runtime_cache.cache_key(art.path)  # same weights and card: same key
    src = tmp_path / "edge.py"
    src.write_text("# changed model code\n")
    monkeypatch.setattr(runtime_cache, "_graph_sources", lambda: [src])
    assert runtime_cache.cache_key(a / "model.safetensors") != key_a
