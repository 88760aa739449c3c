"""The shipped weights: present, loadable offline, documented, and better than the baselines."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefuse.data.pairs import find_pairs, load_pair
from edgefuse.fusion import DEFAULT_METHOD, create_fuser, shipped_models
from edgefuse.metrics.registry import evaluate_rgb
from edgefuse.models.checkpoint import file_sha256, load_checkpoint
from tests.helpers import SAMPLES


def test_default_is_the_shipped_ivf_student():
    assert DEFAULT_METHOD == "edge_nano_ivf"
    assert {"edge_nano_ivf", "edge_nano_med", "edge_teacher_ivf"} <= set(shipped_models())


@pytest.mark.parametrize("name", ["edge_nano_ivf", "edge_nano_med", "edge_teacher_ivf"])
def test_cards_record_training(name):
    _, card = load_checkpoint(shipped_models()[name])
    training = card["training"]
    assert training["command"].startswith("edgefuse ") and training["iterations"] > 0
    assert all("test" not in d.split("/") for d in training["data"])
    assert card["metrics"]["holdout"]["VIF"] > 0


def test_student_was_distilled_from_the_shipped_teacher():
    _, card = load_checkpoint(shipped_models()["edge_nano_ivf"])
    assert card["training"]["mode"] == "distill"
    assert card["training"]["teacher_sha256"] == file_sha256(shipped_models()["edge_teacher_ivf"])


def test_default_student_beats_average_and_laplacian_on_the_msrs_sample():
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    scores = {
        m: evaluate_rgb(create_fuser(m)(pair.vis, pair.ir), pair.ir, pair.vis, ["VIF", "Qabf"])
        for m in ("edge_nano_ivf", "average", "laplacian")
    }
    for base in ("average", "laplacian"):
        assert scores["edge_nano_ivf"]["VIF"] > scores[base]["VIF"]
        assert scores["edge_nano_ivf"]["Qabf"] > scores[base]["Qabf"]


def _tensors(vis, ir):
    """(N,3,H,W) visible and (N,1,H,W) IR in [0, 1] from 8-bit arrays."""
    import torch

    return torch.from_numpy(vis).permute(2, 0, 1)[None].float() / 255, torch.from_numpy(ir)[None, None].float() / 255


def _assert_clean_pairs_alike(model, plain):
    """The bundled clean pairs fuse alike with both, up to float summation order.

    With a stage off, the remaining stages run as other ops (the visible denoising alone instead of with the
    IR), which moves the float output by about 1e-7 with one thread and may round a single pixel the other
    way; a stage that acted would move it by a grey level or more.
    """
    import torch

    for pair in (load_pair(p) for p in find_pairs(SAMPLES / "ivf")):
        with torch.no_grad():
            gap = float((model(*_tensors(pair.vis, pair.ir)) - plain(*_tensors(pair.vis, pair.ir))).abs().max())
        assert gap < 1e-5, (pair.name, gap)


def _fuse_eager(net, vis, ir):
    """8-bit fused image of a torch model, eager (no ONNX cache)."""
    import numpy as np
    import torch

    with torch.no_grad():
        out = net(*_tensors(vis, ir))[0].permute(1, 2, 0).numpy()
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)

def _default_and_without(stage: str):
    """The shipped IVF default and the same model with the input ``stage`` off; the bundled pairs fuse alike."""
    model, _ = load_checkpoint(shipped_models()["edge_nano_ivf"])
    assert getattr(model, stage)
    plain, _ = load_checkpoint(shipped_models()["edge_nano_ivf"])
    setattr(plain, stage, False)
    _assert_clean_pairs_alike(model, plain)  # clean pairs: the stage stays off
    return model, plain



def test_default_removes_a_raised_ir_pedestal_and_leaves_the_clean_pair_alone():
    """The default's card turns on the IR black-level clamp: a washed-out IR is restored, a clean one untouched."""
    import numpy as np

    from edgefuse.data.degrade import degrade_pair, pair_rng

    model, card = load_checkpoint(shipped_models()["edge_nano_ivf"])
    assert card["config"] == {"ir_black_level": True, "ir_denoise": True, "ir_destripe": True,
                              "vis_denoise": True} and model.ir_black_level and not model.vis_exposure
    assert load_checkpoint(shipped_models()["edge_nano_med"])[1]["config"] == {"ir_black_level": True}
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    fuse = create_fuser("edge_nano_ivf", fastest=False)
    plain, _ = load_checkpoint(shipped_models()["edge_nano_ivf"])
    plain.ir_black_level = False  # the same weights without the clamp (the pair is not noisy: no denoising)

    def fuse_plain(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        return _fuse_eager(plain, vis, ir)

    assert np.abs(fuse(pair.vis, pair.ir).astype(int) - fuse_plain(pair.vis, pair.ir).astype(int)).max() <= 1
    vis, washed, _ = degrade_pair(pair.vis, pair.ir, "ir_low_contrast", 2, pair_rng(0, pair.name, "t", 2))
    clamp = evaluate_rgb(fuse(vis, washed), pair.ir, pair.vis, ["VIF", "Qabf"])  # scored against the clean pair
    without = evaluate_rgb(fuse_plain(vis, washed), pair.ir, pair.vis, ["VIF", "Qabf"])
    assert clamp["VIF"] > without["VIF"] + 0.1 and clamp["Qabf"] > without["Qabf"] + 0.05


def test_default_shrinks_ir_noise_and_leaves_the_clean_pair_alone():
    """The default's card turns on IR denoising: a noisy IR fuses better, a clean pair exactly as without it."""
    from edgefuse.data.degrade import degrade_pair, pair_rng

    model, plain = _default_and_without("ir_denoise")
    run = _fuse_eager
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    vis, noisy, _ = degrade_pair(pair.vis, pair.ir, "ir_noise", 2, pair_rng(0, pair.name, "t", 2))
    on = evaluate_rgb(run(model, vis, noisy), pair.ir, pair.vis, ["VIF", "Qabf"])  # against the clean pair
    off = evaluate_rgb(run(plain, vis, noisy), pair.ir, pair.vis, ["VIF", "Qabf"])
    assert on["VIF"] > off["VIF"] + 0.03 and on["Qabf"] > off["Qabf"] + 0.01, (on, off)


def test_default_removes_ir_column_stripes_and_leaves_the_clean_pairs_alone():
    """The default's card turns on IR destriping: striped IR fuses close to the clean fusion, clean pairs as without it."""
    import numpy as np

    model, plain = _default_and_without("ir_destripe")
    run = _fuse_eager
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    rng = np.random.default_rng(0)
    stripes = 0.02 * 255 * rng.standard_normal((1, pair.ir.shape[1]))  # column offsets only, no random noise
    striped = np.clip(np.rint(pair.ir.astype(np.float64) + stripes), 0, 255).astype(np.uint8)
    clean = run(model, pair.vis, pair.ir).astype(np.float64)

    def column_steps(fused: np.ndarray) -> float:
        """Std of the column-to-column steps of the mean error (over rows) to the clean pair's fusion."""
        return float(np.diff((fused.astype(np.float64) - clean).mean(axis=(0, 2))).std())

    on, off = column_steps(run(model, pair.vis, striped)), column_steps(run(plain, pair.vis, striped))
    assert on < 0.4 * off, (on, off)


def test_default_shrinks_low_light_visible_noise_and_leaves_the_clean_pairs_alone():
    """The default's card turns on visible denoising: a dark, noisy visible fuses better, clean pairs as without it."""
    from edgefuse.data.degrade import degrade_pair, pair_rng

    model, plain = _default_and_without("vis_denoise")
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "00004N"))
    dark, ir, _ = degrade_pair(pair.vis, pair.ir, "low_light", 2, pair_rng(0, pair.name, "t", 2))
    on = evaluate_rgb(_fuse_eager(model, dark, ir), pair.ir, pair.vis, ["VIF", "Qabf"])  # against the clean pair
    off = evaluate_rgb(_fuse_eager(plain, dark, ir), pair.ir, pair.vis, ["VIF", "Qabf"])
    assert on["VIF"] > off["VIF"] + 0.01 and on["Qabf"] > off["Qabf"], (on, off)


def test_exposure_card_hands_an_over_exposed_visible_to_the_ir_and_leaves_the_clean_pairs_alone():
    """The opt-in exposure card is the default plus the over-exposure stage: a clipped visible fuses better,
    clean pairs as with the default."""
    import numpy as np

    from edgefuse.data.degrade import degrade_pair, pair_rng

    weights = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "weights" / "edge_nano_ivf_exposure.safetensors"
    model, card = load_checkpoint(weights)
    plain, default = load_checkpoint(shipped_models()["edge_nano_ivf"])
    assert card["config"] == {**default["config"], "vis_exposure": True} and card["sha256"] == default["sha256"]
    _assert_clean_pairs_alike(model, plain)  # no white regions: as the default
    pair = load_pair(next(p for p in find_pairs(SAMPLES / "ivf") if p.name == "FLIR_00211"))
    bright, ir, _ = degrade_pair(pair.vis, pair.ir, "over_exposure", 2, pair_rng(0, pair.name, "t", 2))
    assert (bright.astype(np.float64) @ [0.299, 0.587, 0.114] >= 254).mean() > 0.12  # full strength
    on = evaluate_rgb(_fuse_eager(model, bright, ir), pair.ir, pair.vis, ["VIF", "Qabf"])  # against the clean pair
    off = evaluate_rgb(_fuse_eager(plain, bright, ir), pair.ir, pair.vis, ["VIF", "Qabf"])
    assert on["VIF"] > off["VIF"] + 0.1 and on["Qabf"] > off["Qabf"] + 0.05, (on, off)
