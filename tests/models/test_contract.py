"""The fusion-model contract, checked on every registered architecture and every shipped model.

Declared attributes and their types, the forward signature and output/feature shapes, the text
rule (a text-free model refuses text, a text-guided one needs it), and ONNX export with
torch-vs-ONNX-Runtime parity at an odd size through the runtime's padding path.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import edgefuse
from edgefuse.fusion import shipped_models
from edgefuse.models import DTPF, MODELS, FusionModel, count_params, create_model
from edgefuse.models.checkpoint import load_checkpoint
from edgefuse.models.dtpf import pad_to_multiple

SHIPPED_DIR = Path(edgefuse.__file__).resolve().parent / "assets" / "models"
SHIPPED = sorted(SHIPPED_DIR.glob("*.safetensors"))
CASES = [f"arch:{name}" for name in MODELS.names()] + [f"shipped:{p.stem}" for p in SHIPPED]
ODD = (37, 53)  # neither side a multiple of 2, 8 or 64
# Tracing a full-depth DTPF takes most of a minute on 2 cores: the default run exports each DTPF
# architecture at one block per level (same factory, same layers and text width); --runslow adds
# the full-depth exports.
SHALLOW_DTPF = dict(dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1)


def _dtpf_names() -> list[str]:
    with torch.device("meta"):  # no weights allocated
        return [name for name in MODELS.names() if isinstance(create_model(name), DTPF)]


def _build(case: str) -> FusionModel:
    kind, name = case.split(":", 1)
    if kind == "shipped":
        model, _ = load_checkpoint(SHIPPED_DIR / f"{name}.safetensors")
        return model.eval()
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():  # zero-initialised heads (edge models) would hide the network from the checks
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.1)
    return model


@pytest.fixture(scope="module")
def get_model() -> Callable[[str], FusionModel]:
    """Build each case once per module (the 40 M-parameter teacher takes about a second)."""
    cache: dict[str, FusionModel] = {}

    def get(case: str) -> FusionModel:
        if case not in cache:
            cache[case] = _build(case)
        return cache[case]

    return get


def _inputs(model: FusionModel, batch: int, h: int, w: int, seed: int = 0):  # noqa: ANN202
    gen = torch.Generator().manual_seed(seed)
    vis = torch.rand(batch, 3, h, w, generator=gen)
    ir = torch.rand(batch, 1, h, w, generator=gen)
    text = None if model.text_dim is None else torch.randn(batch, model.text_dim, generator=gen)
    return vis, ir, text


def test_every_shipped_model_is_covered() -> None:
    assert SHIPPED, f"no shipped models under {SHIPPED_DIR}"
    assert {p.stem for p in SHIPPED} == set(shipped_models())


@pytest.mark.parametrize("case", CASES)
def test_declared_attributes(case: str, get_model: Callable[[str], FusionModel]) -> None:
    model = get_model(case)
    assert isinstance(model, FusionModel) and isinstance(model, nn.Module)
    assert type(model.size_multiple) is int and model.size_multiple >= 1
    assert model.text_dim is None or (type(model.text_dim) is int and model.text_dim > 0)
    assert model.is_teacher == (model.text_dim is not None)
    assert type(model.feature_channels) is tuple and model.feature_channels
    assert all(type(c) is int and c > 0 for c in model.feature_channels)
    assert (model.vis_channels, model.ir_channels) == (3, 1)


@pytest.mark.parametrize("case", CASES)
def test_forward_shapes_and_features(case: str, get_model: Callable[[str], FusionModel]) -> None:
    """The odd size is kept; DTPF pads it to 64 x 64 inside. Large models run one pair, small ones two."""
    model = get_model(case)
    h, w = ODD
    n = 1 if count_params(model) > 1_000_000 else 2
    vis, ir, text = _inputs(model, n, h, w)
    with torch.no_grad():
        fused = model(vis, ir, text)
        again, features = model(vis, ir, text, return_features=True)
    assert fused.shape == (n, 3, h, w) and fused.dtype == torch.float32
    torch.testing.assert_close(again, fused, atol=0.0, rtol=0.0)
    assert len(features) == len(model.feature_channels)
    for f, c in zip(features, model.feature_channels):
        assert f.dim() == 4 and f.shape[:2] == (n, c)
        assert torch.isfinite(f).all()


@pytest.mark.parametrize("case", CASES)
def test_text_rule(case: str, get_model: Callable[[str], FusionModel]) -> None:
    """A text-free model given text, or a text-guided one called without, raises one ValueError line."""
    model = get_model(case)
    vis, ir, text = _inputs(model, 1, 16, 16)
    if model.text_dim is None:
        with pytest.raises(ValueError, match="takes no text") as err:
            model(vis, ir, torch.zeros(1, 8))
    else:
        with pytest.raises(ValueError, match="needs text embeddings") as err:
            model(vis, ir)
        with pytest.raises(ValueError, match="text must be"):
            model(vis, ir, torch.zeros(1, model.text_dim + 1))
    message = str(err.value)
    assert "\n" not in message and type(model).__name__ in message


def _check_onnx_parity(model: FusionModel, tmp_path: Path) -> None:
    """Export ``model`` (text-guided ones with a fixed text) at the padded size of 37 x 53 and run it there.

    Float inputs are padded with :func:`pad_to_multiple` (what DTPF does inside ``forward``) and
    the output cropped; uint8 frames go through the package's fuser for an ``.onnx`` path, which
    pads, infers and crops the way ``edgefuse fuse`` does. Both are compared with torch at 37 x 53.
    """
    ort = pytest.importorskip("onnxruntime")
    from edgefuse.export.onnx import export_onnx
    from edgefuse.fusion import create_fuser
    from edgefuse.text.conditioning import FixedTextTeacher

    deployed: nn.Module = model if model.text_dim is None else FixedTextTeacher(model, seed=1).eval()
    m = model.size_multiple
    h, w = ODD
    ph, pw = -(-h // m) * m, -(-w // m) * m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_onnx(deployed, tmp_path / "model.onnx", ph, pw)
    vis, ir, _ = _inputs(model, 1, h, w, seed=2)
    with torch.no_grad():
        expected = deployed(vis, ir)
    runner = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"vis": pad_to_multiple(vis, m).numpy(), "ir": pad_to_multiple(ir, m).numpy()}
    (got,) = runner.run(["fused"], feed)
    assert got.shape == (1, 3, ph, pw)
    np.testing.assert_allclose(got[..., :h, :w], expected.numpy(), atol=1e-4, rtol=0)
    rng = np.random.default_rng(3)
    vis8 = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ir8 = rng.integers(0, 256, (h, w), dtype=np.uint8)
    fused8 = create_fuser(str(path), threads=2)(vis8, ir8)
    v = torch.from_numpy(vis8.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)
    i = torch.from_numpy(ir8.astype(np.float32)[None, None] / 255.0)
    with torch.no_grad():
        ref = deployed(v, i)[0].numpy().transpose(1, 2, 0)
    ref8 = np.clip(ref, 0.0, 1.0) * 255.0
    assert fused8.shape == (h, w, 3) and fused8.dtype == np.uint8
    assert np.abs(fused8.astype(np.float64) - ref8).max() <= 0.5 + 255 * 1e-4  # rounding plus the float tolerance


@pytest.mark.ort
@pytest.mark.parametrize("case", CASES)
def test_onnx_parity_at_an_odd_size(case: str, get_model: Callable[[str], FusionModel], tmp_path: Path) -> None:
    """Every case exports and matches ONNX Runtime at 37 x 53; DTPF architectures at one block per level."""
    model = get_model(case)
    if isinstance(model, DTPF) and case.startswith("arch:"):
        torch.manual_seed(0)
        model = create_model(case.split(":", 1)[1], **SHALLOW_DTPF).eval()
    _check_onnx_parity(model, tmp_path)


@pytest.mark.slow
@pytest.mark.ort
@pytest.mark.parametrize("name", _dtpf_names())
def test_full_depth_dtpf_onnx_parity_at_an_odd_size(
    name: str, get_model: Callable[[str], FusionModel], tmp_path: Path
) -> None:
    _check_onnx_parity(get_model(f"arch:{name}"), tmp_path)
