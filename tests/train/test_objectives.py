"""Training regimes as objectives: degradation-aware batches, teacher text sources, distillation recipes, CLIP."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from edgefuse.data.degrade import DegradationMix
from edgefuse.errors import CheckpointError, ConfigError
from edgefuse.models import create_model
from edgefuse.models.checkpoint import load_checkpoint, save_checkpoint
from edgefuse.train.config import TrainConfig
from edgefuse.train.dataset import PairedCropDataset, collate_samples
from edgefuse.train.loop import Trainer, train
from edgefuse.train.objectives import OBJECTIVES, gradient_shares
from tests.helpers import write_pair_dataset

TINY = dict(model="edge_nano", model_config={"widths": (8, 8, 8)}, batch=2, crop=32,
            val_every=4, ckpt_every=2, val_pairs=1, lr=1e-3)


@pytest.fixture()
def data(tmp_path):
    return str(write_pair_dataset(tmp_path / "train", ["a", "b", "c", "d"], h=40, w=48))


def test_degraded_batches_keep_clean_targets_and_geometry(data):
    mix = DegradationMix(("ir_noise",), (3,), clean_ratio=0.0)
    plain = PairedCropDataset([data], crop=32, seed=1)
    degraded = PairedCropDataset([data], crop=32, seed=1, degrade=mix)
    a, b = plain[1], degraded[1]
    assert torch.equal(a["vis"], b["vis_target"]) and torch.equal(a["ir"], b["ir_target"])  # same crop + flips
    assert torch.equal(b["vis"], b["vis_target"])  # IR noise leaves the visible side alone
    assert (b["ir"] - b["ir_target"]).abs().mean() > 0.02 and b["degradation"] == "ir_noise"
    batch = collate_samples([degraded[0], degraded[1]])
    assert batch["ir_target"].shape == (2, 1, 32, 32) and batch["degradation"] == ["ir_noise", "ir_noise"]


def test_one_objective_class_per_regime(tmp_path, data):
    assert set(OBJECTIVES) == {"student", "teacher", "distill"}
    trainer = Trainer(TrainConfig(mode="student", data=(data,), iters=1, out=str(tmp_path / "s"), **TINY))
    assert type(trainer.objective).__name__ == "StudentObjective"


def _teacher(tmp_path, data, text="oracle", degrade=("ir_noise", "low_light")):
    cfg = TrainConfig(mode="teacher", model="edge_teacher", model_config={"widths": (8, 8, 8)}, data=(data,),
                      iters=2, batch=2, crop=32, val_every=2, ckpt_every=2, val_pairs=1,
                      out=str(tmp_path / f"t_{text}"), degrade_types=degrade, clean_ratio=0.0, teacher_text=text)
    return cfg


def test_teacher_text_sources(tmp_path, data):
    pytest.importorskip("sentence_transformers")
    trainer = Trainer(_teacher(tmp_path, data, "oracle"))
    batch = next(trainer._batches())
    assert set(batch["degradation"]) <= {"ir_noise", "low_light"}
    assert trainer.text_events(batch) == [(k,) for k in batch["degradation"]]  # the applied event
    constant = Trainer(_teacher(tmp_path, data, "constant"))
    assert constant.text_events(batch) == [("general",), ("general",)]
    # the loss weights follow the true events in both arms (only the text differs)
    assert trainer.true_events(batch) == constant.true_events(batch)
    weights = train(_teacher(tmp_path, data, "constant"))
    assert json.loads(weights.with_suffix(".json").read_text())["training"]["teacher_text"] == "constant"


def _distill_cfg(tmp_path, data, **kw):
    teacher = create_model("edge_small", widths=(8, 8, 16))
    torch.manual_seed(0)
    torch.nn.init.normal_(teacher.head.weight, std=0.5)  # a teacher that differs from the student's identity init
    tpath = save_checkpoint(teacher, tmp_path / "teacher.safetensors", "edge_small", {"widths": (8, 8, 16)})
    return TrainConfig(mode="distill", teacher=str(tpath), data=(data,), iters=4, grad_share_every=2,
                       degrade_types=("ir_noise",), out=str(tmp_path / kw.pop("name", "d")), **TINY, **kw)


def test_calibrated_recipe_gives_the_teacher_a_real_share(tmp_path, data):
    weights = train(_distill_cfg(tmp_path, data))
    card = json.loads(weights.with_suffix(".json").read_text())["training"]
    assert card["recipe"] == "calibrated" and card["res_loss"] == "l1"
    cal = card["calibration"]
    # w_res makes the output term's gradient norm equal to the fusion term's at the start
    assert card["w_res"] == pytest.approx(cal["grad_norm_fusion"] / cal["grad_norm_res_unit"], rel=1e-3)
    rows = [r for r in csv.DictReader(open(tmp_path / "d" / "log.csv")) if r.get("gshare_res")]
    assert rows, "gradient shares were not logged"
    shares = {k: float(rows[0][f"gshare_{k}"]) for k in ("fusion", "feat", "res")}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert shares["res"] + shares["feat"] > 0.2


def test_dtpf_recipe_keeps_the_coded_weights_and_is_inert(tmp_path, data):
    weights = train(_distill_cfg(tmp_path, data, recipe="dtpf", name="dtpf"))
    card = json.loads(weights.with_suffix(".json").read_text())["training"]
    assert (card["w_feat"], card["w_res"], card["res_loss"]) == (0.1, 1.0, "smooth_l1_beta1")
    rows = [r for r in csv.DictReader(open(tmp_path / "dtpf" / "log.csv")) if r.get("gshare_res")]
    assert float(rows[0]["gshare_res"]) + float(rows[0]["gshare_feat"]) < 0.05  # the measured problem


def test_calibration_survives_resume(tmp_path, data):
    cfg = _distill_cfg(tmp_path, data, name="r")
    train(TrainConfig.from_dict({**cfg.to_dict(), "iters": 2}))
    first = json.loads((tmp_path / "r" / "model.json").read_text())["training"]["w_res"]
    trainer = Trainer(cfg)
    assert trainer.resume()
    assert trainer.objective.loss.w_res == pytest.approx(first) and trainer.objective.calibrated


def test_gradient_shares_measure_each_term():
    w = torch.nn.Parameter(torch.ones(3))
    shares = gradient_shares({"a": (3 * w).sum(), "b": w.sum()}, [w])
    assert shares["gshare_a"] == pytest.approx(0.75) and shares["gshare_b"] == pytest.approx(0.25)


def test_bad_training_options():
    with pytest.raises(ConfigError, match="teacher_text"):
        TrainConfig(teacher_text="oracel")
    with pytest.raises(ConfigError, match="recipe"):
        TrainConfig(recipe="kd")
    with pytest.raises(ConfigError, match="Did you mean 'low_light'"):
        TrainConfig.from_dict({"degrade_types": "lowlight"})
    with pytest.raises(ConfigError, match="needs --text-weights"):
        TrainConfig(text_encoder="clip")


def _tiny_clip(folder):
    tf = pytest.importorskip("transformers")
    from tests.text.test_encoders_models import _write_test_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = _write_test_tokenizer(folder, tf)
    eot = vocab["<|endoftext|>"]
    config = tf.CLIPTextConfig(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=4, max_position_embeddings=77, projection_dim=24,
                               eos_token_id=eot, bos_token_id=vocab["<|startoftext|>"], pad_token_id=eot)
    torch.manual_seed(0)
    tf.CLIPTextModelWithProjection(config).save_pretrained(str(folder))
    return folder


def test_clip_teacher_round_trip(tmp_path, data):
    """Train a teacher a few iterations with a tiny local CLIP, reload it from its card, fuse."""
    clip = _tiny_clip(tmp_path / "clip")
    from click.testing import CliRunner

    from edgefuse.cli.main import cli

    out = tmp_path / "clip_teacher"
    res = CliRunner().invoke(cli, ["train", "--mode", "teacher", "--model", "edge_teacher", "--data", data,
                                   "--iters", "2", "--batch", "2", "--crop", "32", "--val-every", "2",
                                   "--val-pairs", "1", "--text-encoder", "clip", "--text-weights", str(clip),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    model, card = load_checkpoint(out / "model.safetensors")
    assert model.text_dim == 24 and card["training"]["text_encoder"] == "clip"
    assert card["training"]["text_weights"] == str(clip)
    from edgefuse.fusion import create_fuser

    rng = np.random.default_rng(0)
    vis = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
    ir = rng.integers(0, 255, (40, 48), dtype=np.uint8)
    fused = create_fuser(str(out / "model.safetensors"))(vis, ir)
    assert fused.shape == (40, 48, 3) and fused.dtype == np.uint8
    # a folder that is not a CLIP checkpoint: one line, nothing written
    bad = tmp_path / "notclip"
    bad.mkdir()
    res = CliRunner().invoke(cli, ["train", "--mode", "teacher", "--model", "edge_teacher", "--data", data,
                                   "--iters", "2", "--text-encoder", "clip", "--text-weights", str(bad),
                                   "--out", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "no CLIP checkpoint" in res.output
    assert not (tmp_path / "nothing").exists()


def test_teacher_on_degraded_leaves_clean_samples_to_the_fusion_loss(tmp_path, data):
    cfg = _distill_cfg(tmp_path, data, name="deg", teacher_on="degraded", clean_ratio=0.5)
    trainer = Trainer(cfg)
    obj = trainer.objective
    batch = next(trainer._batches())
    n = batch["vis"].shape[0]
    model = trainer.model
    # all clean: no teacher term at all (zero, and no gradient through it)
    clean = {**batch, "degradation": ["clean"] * n}
    _, feat, res, _, _, _ = obj._raw_terms(model, clean)[:6]
    assert feat.item() == 0.0 and res.item() == 0.0
    # one degraded sample: the terms equal those of that sample alone under teacher_on "all"
    one = {**batch, "degradation": ["ir_noise"] + ["clean"] * (n - 1)}
    _, feat1, res1, _, _, _ = obj._raw_terms(model, one)[:6]
    object.__setattr__(trainer.cfg, "teacher_on", "all")  # the same objective, teacher terms on every sample
    alone = {k: (v[:1] if isinstance(v, (torch.Tensor, list)) else v)
             for k, v in batch.items()}
    _, feat_a, res_a, _, _, _ = obj._raw_terms(model, alone)[:6]
    torch.testing.assert_close(res1, res_a)
    torch.testing.assert_close(feat1, feat_a)
    assert res1.item() > 0
    object.__setattr__(trainer.cfg, "teacher_on", "degraded")
    weights = train(TrainConfig.from_dict({**cfg.to_dict(), "out": str(tmp_path / "deg2")}))
    assert json.loads(weights.with_suffix(".json").read_text())["training"]["teacher_on"] == "degraded"
    with pytest.raises(ConfigError, match="needs degraded training inputs"):
        TrainConfig(mode="distill", teacher="t.safetensors", teacher_on="degraded")
    with pytest.raises(ConfigError, match="teacher_on"):
        TrainConfig(teacher_on="some")


def test_teacher_on_clean_anchors_the_clean_samples_only(tmp_path, data):
    cfg = _distill_cfg(tmp_path, data, name="anchor", teacher_on="clean", clean_ratio=0.5)
    trainer = Trainer(cfg)
    obj, model = trainer.objective, trainer.model
    batch = next(trainer._batches())
    n = batch["vis"].shape[0]
    _, feat, res, _, _, _ = obj._raw_terms(model, {**batch, "degradation": ["ir_noise"] * n})[:6]
    assert feat.item() == 0.0 and res.item() == 0.0  # no clean sample: no teacher term
    mixed = {**batch, "degradation": ["ir_noise"] * (n - 1) + ["clean"]}
    _, _, res_mixed, _, _, _ = obj._raw_terms(model, mixed)[:6]
    object.__setattr__(trainer.cfg, "teacher_on", "all")
    last = {k: (v[-1:] if isinstance(v, (torch.Tensor, list)) else v) for k, v in batch.items()}
    _, _, res_last, _, _, _ = obj._raw_terms(model, last)[:6]
    torch.testing.assert_close(res_mixed, res_last)  # the clean sample's term alone


def test_teacher_on_better_distils_only_where_the_teacher_has_the_lower_fusion_loss(tmp_path, data):
    from edgefuse.train.losses import per_sample_fusion_loss
    from edgefuse.train.objectives import inputs, targets

    trainer = Trainer(_distill_cfg(tmp_path, data, name="better", teacher_on="better"))
    obj, model, real = trainer.objective, trainer.model, trainer.teacher
    batch = next(trainer._batches())
    vis, ir = inputs(batch, trainer.device)
    vis_t, ir_t = targets(batch, trainer.device)
    fused = model(vis, ir).detach().requires_grad_(True)
    per = per_sample_fusion_loss(fused, vis_t, ir_t, trainer.default_weights)
    (grad,) = torch.autograd.grad(per.sum(), fused)
    step = 0.02 * grad / grad.abs().amax(dim=(1, 2, 3), keepdim=True)
    # a teacher whose output is a small step down each sample's fusion loss, except sample 0: a step up
    sign = torch.ones(fused.shape[0], 1, 1, 1)
    sign[0] = -1.0
    shifted = (fused - sign * step).detach()

    class Stepped(torch.nn.Module):
        feature_channels = real.feature_channels

        def forward(self, v, i, text=None, return_features=False):
            _, feats = real(v, i, text, return_features=True)
            return shifted, feats

    trainer.teacher = Stepped()
    teacher_lower = per_sample_fusion_loss(shifted, vis_t, ir_t, trainer.default_weights) < per.detach()
    assert teacher_lower.tolist() == [False] + [True] * (fused.shape[0] - 1)
    _, feat, res, parts, _, _ = obj._raw_terms(model, batch)[:6]
    assert parts["teacher_rows"].item() == pytest.approx((fused.shape[0] - 1) / fused.shape[0])
    torch.testing.assert_close(res, torch.nn.functional.l1_loss(fused[1:].detach(), shifted[1:]))
    # every sample up the loss: no teacher term at all
    shifted = (fused + step).detach()
    _, feat, res, parts, _, _ = obj._raw_terms(model, batch)[:6]
    assert feat.item() == 0.0 and res.item() == 0.0 and parts["teacher_rows"].item() == 0.0
    # the gate needs no degraded inputs, and the card records it
    TrainConfig(mode="distill", teacher="t.safetensors", teacher_on="better", data=(data,))
    weights = train(_distill_cfg(tmp_path, data, name="better2", teacher_on="better"))
    card = json.loads(weights.with_suffix(".json").read_text())["training"]
    assert card["teacher_on"] == "better"
    rows = list(csv.DictReader(open(tmp_path / "better2" / "log.csv")))
    assert all(0.0 <= float(r["teacher_rows"]) <= 1.0 for r in rows if r.get("teacher_rows"))


def test_teacher_on_scored_distils_only_where_the_teacher_scores_higher(tmp_path, data):
    trainer = Trainer(_distill_cfg(tmp_path, data, name="scored", teacher_on="scored"))
    obj, real = trainer.objective, trainer.teacher
    batch = next(trainer._batches())
    with torch.no_grad():  # a fusion of the clean sources: blurring it lowers VIF and Qabf against them
        sharp = trainer.model(batch["vis_target"], batch["ir_target"])

    def blur(x):
        return torch.nn.functional.avg_pool2d(x, 7, 1, 3, count_include_pad=False)

    class Fixed(torch.nn.Module):  # a network with a given output and the real networks' features
        feature_channels = None

        def __init__(self, net, out):
            super().__init__()
            self.net, self.out, self.feature_channels = net, out, net.feature_channels

        def forward(self, v, i, text=None, return_features=False):
            _, feats = self.net(v, i, text, return_features=True) if text is not None else self.net(
                v, i, return_features=True)
            return self.out, feats

    # the student's output is a blurred fusion; the teacher is sharper on sample 1, blurrier still on sample 0
    student = Fixed(trainer.model, blur(sharp))
    teacher_out = sharp.clone()
    teacher_out[0] = blur(blur(blur(sharp)))[0]
    trainer.teacher = Fixed(real, teacher_out)
    _, _, res, parts, _, _ = obj._raw_terms(student, batch)[:6]
    assert parts["teacher_rows"].item() == pytest.approx(0.5)
    torch.testing.assert_close(res, torch.nn.functional.l1_loss(blur(sharp)[1:], teacher_out[1:]))
    trainer.teacher = Fixed(real, blur(blur(sharp)))  # blurrier everywhere: no teacher term
    _, feat, res, parts, _, _ = obj._raw_terms(student, batch)[:6]
    assert feat.item() == 0.0 and res.item() == 0.0 and parts["teacher_rows"].item() == 0.0


def test_anchor_holds_the_clean_samples_to_the_frozen_weights(tmp_path, data):
    torch.manual_seed(0)
    start = create_model("edge_nano", widths=(8, 8, 8))
    torch.nn.init.normal_(start.head.weight, std=0.3)
    spath = save_checkpoint(start, tmp_path / "start.safetensors", "edge_nano", {"widths": (8, 8, 8)})
    cfg = TrainConfig(mode="student", data=(data,), iters=4, grad_share_every=2, degrade_types=("ir_noise",),
                      clean_ratio=0.5, init=str(spath), anchor=str(spath), w_anchor=10.0,
                      out=str(tmp_path / "anc"), **{**TINY, "model_config": {"widths": (8, 8, 8)}})
    trainer = Trainer(cfg)
    obj, model = trainer.objective, trainer.model
    batch = next(trainer._batches())
    n = batch["vis"].shape[0]
    # the student starts equal to its anchor: a zero term; moved off it, the term is w_anchor x L1 on clean rows only
    terms, _ = obj.terms(model, {**batch, "degradation": ["clean"] * n})
    assert terms["anchor"].item() == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        model.head.bias.add_(0.05)
    vis, ir = batch["vis"], batch["ir"]
    fused = model(vis, ir)
    mixed = {**batch, "degradation": ["ir_noise"] * (n - 1) + ["clean"]}
    want = 10.0 * (fused[-1:] - start(vis[-1:], ir[-1:])).abs().mean()
    torch.testing.assert_close(obj.anchor_term(fused, mixed, vis, ir), want)
    assert obj.anchor_term(fused, {**batch, "degradation": ["ir_noise"] * n}, vis, ir).item() == 0.0
    weights = train(cfg)
    card = json.loads(weights.with_suffix(".json").read_text())["training"]
    assert card["anchor"] == str(spath) and card["w_anchor"] == 10.0 and card["anchor_on"] == "clean"
    rows = [r for r in csv.DictReader(open(tmp_path / "anc" / "log.csv")) if r.get("gshare_anchor")]
    assert rows, "the anchor term's gradient share was not logged"
    # a resumed run must keep its anchor
    with pytest.raises(ConfigError, match="another --anchor"):
        Trainer(TrainConfig.from_dict({**cfg.to_dict(), "anchor": None, "iters": 8})).resume()
    with pytest.raises(ConfigError, match="for students"):
        TrainConfig(mode="teacher", data=(data,), anchor=str(spath))
    with pytest.raises(ConfigError, match="w_anchor"):
        TrainConfig(data=(data,), anchor=str(spath), w_anchor=0)


def test_prior_term_regresses_the_centred_teacher_text(tmp_path, data):
    pytest.importorskip("sentence_transformers")
    teacher = train(_teacher(tmp_path, data, "oracle"))
    cfg = TrainConfig(mode="distill", teacher=str(teacher), data=(data,), iters=4, grad_share_every=2,
                      degrade_types=("ir_noise", "low_light"), clean_ratio=0.0, prior_share=0.3,
                      out=str(tmp_path / "p"), **TINY)
    weights = train(cfg)
    card = json.loads(weights.with_suffix(".json").read_text())["training"]
    cal = card["calibration"]
    assert card["prior_share"] == 0.3 and card["w_prior"] == pytest.approx(cal["w_prior"], rel=1e-4)
    # the weight gives the prior term 0.3 of the fusion term's gradient norm on the first batches
    assert cal["w_prior"] == pytest.approx(0.3 * cal["grad_norm_fusion"] / cal["grad_norm_prior_unit"], rel=1e-3)
    rows = [r for r in csv.DictReader(open(tmp_path / "p" / "log.csv")) if r.get("gshare_prior")]
    assert rows and all(float(r["gshare_prior"]) > 0.01 for r in rows)
    assert all(-1.0 <= float(r["prior_cos"]) <= 1.0 for r in rows)
    # resume restores the weight, the probe and the running mean of the text embeddings
    trainer = Trainer(cfg)
    assert trainer.resume()
    obj = trainer.objective
    assert obj.w_prior == pytest.approx(card["w_prior"], rel=1e-4) and obj.text_mean is not None
    # the target is the embedding minus that mean: a guess equal to it has no loss, the raw embedding has
    text = torch.randn(2, obj.text_mean.numel())

    class Fixed(torch.nn.Module):
        def __init__(self, out):
            super().__init__()
            self.out = out

        def forward(self, x):
            return self.out

    feats = [torch.zeros(2, 8, 4, 4)]
    with torch.no_grad():
        obj.prior_probe = Fixed(text - obj.text_mean)
        pair = (torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8, 8))
        assert float(obj.prior_term(trainer.model, *pair, feats, text)) == pytest.approx(0.0, abs=1e-5)
        obj.prior_probe = Fixed(text)
        assert float(obj.prior_term(trainer.model, *pair, feats, text)) > 1e-3


def test_prior_share_needs_a_text_teacher_and_distillation(tmp_path, data):
    with pytest.raises(ConfigError, match="prior_share must be in"):
        TrainConfig(prior_share=-0.1)
    with pytest.raises(ConfigError, match="prior_share is for distillation"):
        TrainConfig(mode="student", prior_share=0.3)
    with pytest.raises(ConfigError, match="needs a text-guided teacher"):
        Trainer(_distill_cfg(tmp_path, data, prior_share=0.3, name="np"))


def test_prior_term_trains_a_students_own_prior(tmp_path, data):
    """edge_nano_sp: the probe reads the student's own prior, whose MLP the prior term trains; the saved student
    keeps the prior (it fuses with it, without text) and not the probe."""
    pytest.importorskip("sentence_transformers")
    teacher = train(_teacher(tmp_path, data, "oracle"))
    sp = {**TINY, "model": "edge_nano_sp", "model_config": {"widths": (8, 8, 8), "prior_dim": 4}}
    cfg = TrainConfig(mode="distill", teacher=str(teacher), data=(data,), iters=4, grad_share_every=2,
                      degrade_types=("ir_noise", "low_light"), clean_ratio=0.0, prior_share=0.3,
                      out=str(tmp_path / "sp"), **sp)
    trainer = Trainer(cfg)
    assert trainer.objective.prior_probe.in_features == 4
    start = {k: v.clone() for k, v in trainer.model.prior_head.state_dict().items()}
    weights = train(cfg)
    model, card = load_checkpoint(weights)
    assert model.prior_dim == 4 and not any(k.startswith("prior_probe") for k in model.state_dict())
    assert any(not torch.equal(start[k], v) for k, v in model.prior_head.state_dict().items())
    rows = [r for r in csv.DictReader(open(tmp_path / "sp" / "log.csv")) if r.get("gshare_prior")]
    assert rows and all(float(r["gshare_prior"]) > 0.01 for r in rows)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)).shape == (1, 3, 32, 32)


def test_map_term_pulls_the_students_blend_maps_to_the_teachers(tmp_path, data):
    """--map-share: the student's decision maps move towards the teacher's, the term is logged with its share and
    recorded on the card; with the term off the maps are not returned or matched."""
    pytest.importorskip("sentence_transformers")
    teacher = train(_teacher(tmp_path, data, "oracle"))
    tmodel, tcard = load_checkpoint(teacher)
    with torch.no_grad():  # a teacher with decided maps: IR base weight near 1, detail gains at their extremes
        tmodel.head.bias.copy_(torch.tensor([4.0, -4.0, 4.0]))
    teacher = save_checkpoint(tmodel, teacher, tcard["architecture"], tcard.get("config"),
                              {k: v for k, v in tcard.items() if k not in ("architecture", "config", "sha256")})
    tmodel, _ = load_checkpoint(teacher)
    cfg = TrainConfig(mode="distill", teacher=str(teacher), data=(data,), iters=6, grad_share_every=2,
                      degrade_types=("ir_noise",), clean_ratio=0.0, map_share=1.0, out=str(tmp_path / "m"),
                      **{**TINY, "lr": 2e-2})
    trainer = Trainer(cfg)
    vis, ir = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
    text = torch.zeros(2, tmodel.text_dim)
    with torch.no_grad():
        maps_t = tmodel(vis, ir, text, return_features=True, return_maps=True)[2]
        before = (trainer.model(vis, ir, return_features=True, return_maps=True)[2] - maps_t).abs().mean()
    model, card = load_checkpoint(train(cfg))
    with torch.no_grad():
        out, feats, maps_s = model(vis, ir, return_features=True, return_maps=True)
    assert maps_s.shape == (2, 3, 16, 16) and float((maps_s - maps_t).abs().mean()) < float(before)
    rows = [r for r in csv.DictReader(open(tmp_path / "m" / "log.csv")) if r.get("gshare_maps")]
    assert rows and all(float(r["gshare_maps"]) > 0.01 for r in rows)
    assert card["training"]["map_share"] == 1.0 and card["training"]["w_maps"] > 0


def test_map_share_needs_blend_maps_on_both_sides(tmp_path, data):
    teacher = train(_teacher(tmp_path, data, "oracle"))
    cfg = TrainConfig(mode="distill", teacher=str(teacher), data=(data,), iters=2, map_share=1.0,
                      out=str(tmp_path / "d"), **{**TINY, "model": "dtpf_student", "model_config": {}})
    with pytest.raises(ConfigError, match="blend maps on both sides; the student"):
        Trainer(cfg)
    with pytest.raises(ConfigError, match="map_share is for distillation"):
        TrainConfig(mode="student", data=(data,), map_share=1.0)
