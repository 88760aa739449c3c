"""Training objectives: one class per regime (teacher, student, distillation), as BasicSR has one model per regime.

The loop (:mod:`edgefuse.train.loop`) owns data, optimiser, schedule, checkpoints and logging;
an objective owns what differs between regimes: which modules it needs (teacher, text prompts,
adapters), the loss of a batch, the extra state it must save, and what it adds to the model card.

Degradation-aware training (Text-IF's recipe, Yi et al. CVPR 2024) is orthogonal to the regime:
when the dataset degrades inputs, batches carry ``vis_target``/``ir_target`` (the clean crops)
and every fusion-loss term is computed against them, while the networks see the degraded pair.

Each objective returns its loss as named *weighted* terms with their graph, so the loop can
measure each term's share of the student's gradient norm (``--grad-share-every``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgefuse.errors import ConfigError
from edgefuse.metrics.registry import evaluate_rgb
from edgefuse.train.distill_loss import DistillLoss
from edgefuse.train.losses import fusion_loss, per_sample_fusion_loss
from edgefuse.train.validate import u8_image

logger = logging.getLogger(__name__)

# teacher text sources: the applied degradation's event (or the clean pair's annotation),
# an annotator run on the (degraded) crop, or one constant prompt for every sample (no prior)
TEXT_SOURCES = ("oracle", "annotator", "constant")
RECIPES = ("calibrated", "dtpf")
TEACHER_ON = ("all", "degraded", "clean", "better", "scored")
# the metrics whose sum decides "scored": the two the robustness targets are stated in
SCORED_METRICS = ("VIF", "Qabf")

# the calibrated recipe: each teacher term's gradient norm is set to this fraction of the fusion
# term's, measured on the first batches (see DistillObjective.calibrate)
CALIBRATED_SHARES = {"res": 1.0, "feat": 0.3}
CALIBRATION_BATCHES = 4


def targets(batch: Mapping[str, Any], device: torch.device) -> tuple[Tensor, Tensor]:
    """The fusion-loss targets: the clean crops of a degraded batch, else the inputs."""
    vis = batch.get("vis_target", batch["vis"])
    ir = batch.get("ir_target", batch["ir"])
    return vis.to(device, non_blocking=True), ir.to(device, non_blocking=True)


def sample_rows(batch: Mapping[str, Any], n: int, clean: bool) -> Tensor:
    """Indices of the clean (``clean=True``) or the degraded samples of a batch; undegraded batches are all clean."""
    kinds = batch.get("degradation") or ["clean"] * n
    return torch.tensor([i for i, k in enumerate(kinds) if (k == "clean") == clean], dtype=torch.long)


def _score(fused: Tensor, vis: Tensor, ir: Tensor) -> float:
    """VIF + Qabf of one fused sample against its sources, on the 8-bit images the evaluation scores."""
    m = evaluate_rgb(u8_image(fused), u8_image(ir), u8_image(vis), list(SCORED_METRICS))
    return float(sum(m[k] for k in SCORED_METRICS))


def inputs(batch: Mapping[str, Any], device: torch.device) -> tuple[Tensor, Tensor]:
    return batch["vis"].to(device, non_blocking=True), batch["ir"].to(device, non_blocking=True)


class Objective(abc.ABC):
    """Base of the regimes. Subclasses set ``name`` and implement :meth:`terms`."""

    name = "base"

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def extra_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters beyond the model's (distillation adapters)."""
        return []

    @abc.abstractmethod
    def terms(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(weighted loss terms with graph, extra detached values to log)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None

    def card(self) -> dict[str, Any]:
        return {}

    def anchor_term(self, fused: Tensor, batch: Mapping[str, Any], vis: Tensor, ir: Tensor) -> Tensor | None:
        """``w_anchor`` x L1 between ``fused`` and the frozen anchor's output on the clean samples of a degraded
        batch (every sample when nothing is degraded); ``None`` without ``--anchor``."""
        anchor = self.trainer.anchor
        if anchor is None:
            return None
        idx = sample_rows(batch, fused.shape[0], clean=True).to(fused.device)
        if idx.numel() == 0:  # a batch of degraded samples only: nothing to anchor
            return fused.sum() * 0.0
        with torch.no_grad():
            target = anchor(vis[idx], ir[idx])
        return self.trainer.cfg.w_anchor * F.l1_loss(fused[idx], target)


class StudentObjective(Objective):
    """A student without a teacher: the fusion loss with the task's default weights."""

    name = "student"

    def terms(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        tr = self.trainer
        vis, ir = inputs(batch, tr.device)
        vis_t, ir_t = targets(batch, tr.device)
        fused = model(vis, ir)
        total, parts = fusion_loss(fused, vis_t, ir_t, tr.default_weights)
        terms = {"fusion": total}
        anchor = self.anchor_term(fused, batch, vis, ir)
        if anchor is not None:
            terms["anchor"] = anchor
        return terms, parts


class TeacherObjective(Objective):
    """A text-guided teacher: per-event loss weights (DTPF), text from ``teacher_text``."""

    name = "teacher"

    def terms(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        from edgefuse.text import weights_for

        tr = self.trainer
        vis, ir = inputs(batch, tr.device)
        vis_t, ir_t = targets(batch, tr.device)
        # loss weights follow the true events in every arm, so text ablations differ only in the text
        weights = [weights_for(e, tr.cfg.task) for e in batch["events"]]
        fused = model(vis, ir, tr.text_for(batch))
        total, parts = fusion_loss(fused, vis_t, ir_t, weights)
        return {"fusion": total}, parts

    def card(self) -> dict[str, Any]:
        return {"teacher_text": self.trainer.cfg.teacher_text}


class DistillObjective(Objective):
    """DTPF stage 2: fusion loss + feature matching + output matching against a frozen teacher.

    ``recipe``:

    * ``dtpf``: DTPF's weights as coded (w_feat 0.1, w_res 1.0, SmoothL1 with beta 1 on both
      terms). On [0, 1] images SmoothL1 with beta 1 is 0.5 x^2 for every residual, so its
      gradient is ~1e-3 of the fusion loss's; the teacher then barely acts (measured by the
      gradient shares in ``log.csv``).
    * ``calibrated`` (default): L1 output matching and the per-level feature term, with weights
      set once, on the first batches, so that the output term's gradient norm equals the fusion
      term's and the feature term's is 0.3 of it (``CALIBRATED_SHARES``); ``--w-feat`` /
      ``--w-res`` given explicitly override the calibration.

    ``prior_share`` > 0 (either recipe) adds the prior term (:meth:`prior_term`): the teacher's text
    embedding, the prior itself, as a target for the student's global context through a linear probe that
    exists in training only (like the adapters; the saved student is unchanged). Its weight gives it
    ``prior_share`` of the fusion term's gradient norm on the first batches. After FitNets' student-side
    regressor (Romero et al., ICLR 2015), with the text embedding as the hint.

    ``map_share`` > 0 adds the map term: L1 between the student's and the teacher's decision maps (the
    sigmoid blend maps of two :class:`~edgefuse.models.edge.EdgeFuseNet`: IR base weight, IR and visible
    detail gains, at 1/2 resolution), on the samples the teacher terms act on, with ``map_share`` of the
    fusion term's gradient norm on the first batches. The text-guided edge teacher fuses by choosing its
    source per degradation (e.g. the visible alone under IR noise, the IR alone under over-exposure); the
    output term tells the student *what* the teacher produced, this one *which source* it took, a target the
    student's own blend can reach exactly. A hint on the last decision layer, as FitNets' hints are on a
    middle one.
    """

    name = "distill"

    def __init__(self, trainer: Any) -> None:
        super().__init__(trainer)
        cfg = trainer.cfg
        if cfg.recipe not in RECIPES:
            raise ConfigError(f"recipe {cfg.recipe!r} is not one of {', '.join(RECIPES)}")
        self.loss = DistillLoss(
            trainer.teacher.feature_channels, trainer.model.feature_channels,
            w_feat=cfg.w_feat if cfg.w_feat is not None else 0.1,
            w_res=cfg.w_res if cfg.w_res is not None else 1.0,
            w_base=cfg.w_base, trainable_adapters=cfg.trainable_adapters, base_weights=trainer.default_weights,
        ).to(trainer.device)
        self.res_beta = 1.0 if cfg.recipe == "dtpf" else 0.0
        self.calibrated = cfg.recipe == "dtpf" or (cfg.w_feat is not None and cfg.w_res is not None)
        self.calibration: dict[str, float] = {}
        # the prior term: a training-only probe from the student's global context to the teacher's text
        # embedding (the student is not told the degradation; this makes its context encode it)
        self.prior_probe: nn.Linear | None = None
        self.w_prior = 0.0
        self.text_mean: Tensor | None = None  # running mean of the text embeddings: the probe's target is centred
        if cfg.prior_share:
            if not trainer.teacher.text_dim:
                raise ConfigError("--prior-share needs a text-guided teacher: its text embedding is the target")
            # a student with its own prior (prior_dim) is probed there; any other on its 1/8-level context
            width = getattr(trainer.model, "prior_dim", None) or trainer.model.feature_channels[0]
            self.prior_probe = nn.Linear(width, trainer.teacher.text_dim).to(trainer.device)
        self.w_maps = 0.0
        if cfg.map_share:
            for role, net in (("teacher", trainer.teacher), ("student", trainer.model)):
                if not getattr(net, "decision_maps", False):
                    raise ConfigError(f"--map-share needs blend maps on both sides; the {role} "
                                      f"({type(net).__name__}) has none (edge models have them)")

    def extra_parameters(self) -> list[nn.Parameter]:
        probe = list(self.prior_probe.parameters()) if self.prior_probe is not None else []
        return self.loss.adapter_parameters() + probe

    def prior_term(self, model: nn.Module, vis: Tensor, ir: Tensor, feats_s: Sequence[Tensor], text: Tensor
                   ) -> Tensor:
        """``1 - cos(probe(student prior), centred teacher text embedding)``, batch mean.

        The student prior is the student's own (``model.degradation_prior``) where it has one (``prior_dim``),
        otherwise the mean of its 1/8-level features.

        The prompts' embeddings share most of their direction (cosine 0.53-0.80 between the IVF events' prompts
        with MiniLM), so a constant guess would score well; the target is the embedding minus the running mean
        of those seen (momentum 0.99), which is what tells the events apart.
        """
        assert self.prior_probe is not None
        text = text.detach().float()
        if torch.is_grad_enabled():  # training steps update the mean; calibration and logging passes too
            batch_mean = text.mean(dim=0)
            self.text_mean = batch_mean if self.text_mean is None else 0.99 * self.text_mean + 0.01 * batch_mean
        centre = self.text_mean if self.text_mean is not None else text.mean(dim=0)
        if getattr(model, "prior_dim", None):
            guess = self.prior_probe(model.degradation_prior(vis, ir))
        else:
            guess = self.prior_probe(feats_s[0].mean(dim=(2, 3)))
        return (1.0 - F.cosine_similarity(guess, (text - centre).to(guess.dtype), dim=1)).mean()

    def _teacher_rows(self, batch: Mapping[str, Any], fused_s: Tensor, fused_t: Tensor, vis_t: Tensor,
                      ir_t: Tensor) -> Tensor | None:
        """Indices of the samples the teacher terms act on; ``None``: all of them.

        ``better`` is a teacher-bounded gate (after Chen et al.'s teacher-bounded regression loss, "Learning
        efficient object detection models with knowledge distillation", NeurIPS 2017): a sample takes the
        teacher's output and features as targets only while the teacher's fusion loss against the clean
        targets is lower than the student's current one, so a teacher that is worse on some inputs (the
        edge teacher on clean msrs) cannot pull the student down there. ``scored`` is the same gate judged by
        the evaluation metrics instead of the loss: VIF + Qabf of the teacher's and the student's fused crop
        against the clean sources (the fusion loss and those metrics disagree: the fine-tuned edge teacher has
        the lower fusion loss on most clean crops, yet lower VIF and Qabf on clean msrs).
        """
        on = self.trainer.cfg.teacher_on
        if on == "all":
            return None
        if on == "better":
            w = self.trainer.default_weights
            with torch.no_grad():
                teacher_lower = per_sample_fusion_loss(fused_t, vis_t, ir_t, w) < per_sample_fusion_loss(
                    fused_s.detach(), vis_t, ir_t, w)
            return torch.nonzero(teacher_lower).flatten()
        if on == "scored":
            ahead = [_score(fused_t[i], vis_t[i], ir_t[i]) > _score(fused_s[i], vis_t[i], ir_t[i])
                     for i in range(fused_s.shape[0])]
            return torch.tensor([i for i, a in enumerate(ahead) if a], dtype=torch.long)
        return sample_rows(batch, fused_s.shape[0], clean=on == "clean")

    def _raw_terms(self, model: nn.Module, batch: Mapping[str, Any]
                   ) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor], Tensor | None, Tensor | None, Tensor | None]:
        """(fusion, unweighted feature and output terms, fusion parts, weighted anchor term or None, unweighted
        prior term (all samples) or None without ``prior_share``, unweighted map term or None without
        ``map_share``)."""
        tr = self.trainer
        vis, ir = inputs(batch, tr.device)
        vis_t, ir_t = targets(batch, tr.device)
        text = tr.text_for(batch)
        maps_s = maps_t = None
        with torch.no_grad():
            if tr.cfg.map_share:
                fused_t, feats_t, maps_t = tr.teacher(vis, ir, text, return_features=True, return_maps=True)
            else:
                fused_t, feats_t = tr.teacher(vis, ir, text, return_features=True)
        if tr.cfg.map_share:
            fused_s, feats_s, maps_s = model(vis, ir, return_features=True, return_maps=True)
        else:
            fused_s, feats_s = model(vis, ir, return_features=True)
        self.loss._check(fused_s, fused_t, feats_s, feats_t)
        prior = self.prior_term(model, vis, ir, feats_s, text) if self.prior_probe is not None else None
        base, parts = self.loss.base(fused_s, vis_t, ir_t)
        anchor = self.anchor_term(fused_s, batch, vis, ir)
        rows = self._teacher_rows(batch, fused_s, fused_t, vis_t, ir_t)
        if rows is not None:
            parts = {**parts, "teacher_rows": torch.tensor(rows.numel() / fused_s.shape[0])}
        if rows is not None and rows.numel() == 0:  # no sample the teacher acts on: no teacher term
            zero = fused_s.sum() * 0.0
            return base, zero, zero, parts, anchor, prior, (zero if maps_s is not None else None)
        if rows is not None:
            rows = rows.to(fused_s.device)
            fused_s, fused_t = fused_s[rows], fused_t[rows]
            feats_s, feats_t = [f[rows] for f in feats_s], [f[rows] for f in feats_t]
            if maps_s is not None and maps_t is not None:
                maps_s, maps_t = maps_s[rows], maps_t[rows]
        feat = self.loss.feature_loss(feats_s, feats_t)
        if self.res_beta > 0:
            res = F.smooth_l1_loss(fused_s, fused_t.detach(), beta=self.res_beta)
        else:
            res = F.l1_loss(fused_s, fused_t.detach())
        maps = F.l1_loss(maps_s, maps_t.detach()) if maps_s is not None and maps_t is not None else None
        return base, feat, res, parts, anchor, prior, maps

    def terms(self, model: nn.Module, batch: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        base, feat, res, parts, anchor, prior, maps = self._raw_terms(model, batch)
        lw = self.loss
        terms = {"fusion": lw.w_base * base, "feat": lw.w_feat * feat, "res": lw.w_res * res}
        if maps is not None:
            terms["maps"] = self.w_maps * maps
        if prior is not None:
            terms["prior"] = self.w_prior * prior
            parts["prior_cos"] = (1.0 - prior).detach()
        if anchor is not None:
            terms["anchor"] = anchor
        return terms, parts

    def calibrate(self, model: nn.Module, batches: Sequence[Mapping[str, Any]]) -> None:
        """Set w_feat / w_res from gradient norms on ``batches`` (the calibrated recipe; once per run)."""
        cfg = self.trainer.cfg
        needs_prior = self.prior_probe is not None and not self.w_prior
        needs_maps = bool(cfg.map_share) and not self.w_maps
        if self.calibrated and not needs_prior and not needs_maps:
            return
        params = [p for p in model.parameters() if p.requires_grad]
        norms = {"fusion": 0.0, "feat": 0.0, "res": 0.0, "prior": 0.0, "maps": 0.0}
        for batch in batches:
            base, feat, res, _, _, prior, maps = self._raw_terms(model, batch)
            named = [("fusion", base), ("feat", feat), ("res", res)]
            if prior is not None:
                named.append(("prior", prior))
            if maps is not None:
                named.append(("maps", maps))
            for key, term in named:
                grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
                norms[key] += float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))
        fusion = norms["fusion"] * self.loss.w_base
        if needs_prior:
            # an untrained probe still passes gradient to the student's context (its weights are random)
            self.w_prior = cfg.prior_share * fusion / max(norms["prior"], 1e-8 * max(fusion, 1e-8))
            self.calibration["w_prior"] = self.w_prior
            self.calibration["grad_norm_prior_unit"] = norms["prior"] / len(batches)
        if needs_maps:
            # the maps differ from the first step on (the teacher chose its sources; the student starts at 0.5)
            self.w_maps = cfg.map_share * fusion / max(norms["maps"], 1e-8 * max(fusion, 1e-8))
            self.calibration["w_maps"] = self.w_maps
            self.calibration["grad_norm_maps_unit"] = norms["maps"] / len(batches)
        if self.calibrated:
            return
        for key, given in (("res", cfg.w_res), ("feat", cfg.w_feat)):
            if given is not None:
                continue
            if norms[key] < 1e-8 * max(fusion, 1e-8):
                # teacher and student agree exactly (e.g. both still at their identity init): no
                # gradient to scale; keep the DTPF weight rather than divide by ~0
                logger.warning("distillation %s term has no gradient on the calibration batches; "
                               "keeping the DTPF weight %.3g", key, getattr(self.loss, f"w_{key}"))
                continue
            setattr(self.loss, f"w_{key}", CALIBRATED_SHARES[key] * fusion / norms[key])
        self.calibration = {**self.calibration, "grad_norm_fusion": norms["fusion"] / len(batches),
                            "grad_norm_feat_unit": norms["feat"] / len(batches),
                            "grad_norm_res_unit": norms["res"] / len(batches),
                            "w_feat": self.loss.w_feat, "w_res": self.loss.w_res}
        self.calibrated = True
        extra = "".join(f", {k} {self.calibration[k]:.4g}" for k in ("w_prior", "w_maps") if k in self.calibration)
        logger.info("calibrated distillation weights: w_feat %.4g, w_res %.4g%s (fusion grad norm %.4g)",
                    self.loss.w_feat, self.loss.w_res, extra, norms["fusion"] / len(batches))

    def state_dict(self) -> dict[str, Any]:
        state = {"loss": self.loss.state_dict(), "w_feat": self.loss.w_feat, "w_res": self.loss.w_res,
                 "calibrated": self.calibrated, "calibration": self.calibration}
        if self.prior_probe is not None:
            state.update(prior_probe=self.prior_probe.state_dict(), w_prior=self.w_prior, text_mean=self.text_mean)
        if self.trainer.cfg.map_share:
            state["w_maps"] = self.w_maps
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        if "loss" in state:
            self.loss.load_state_dict(state["loss"])
            self.loss.w_feat, self.loss.w_res = float(state["w_feat"]), float(state["w_res"])
            self.calibrated = bool(state["calibrated"])
            self.calibration = dict(state.get("calibration") or {})
            if self.prior_probe is not None and "prior_probe" in state:
                self.prior_probe.load_state_dict(state["prior_probe"])
                self.w_prior = float(state["w_prior"])
                self.text_mean = state.get("text_mean")
            if self.trainer.cfg.map_share and "w_maps" in state:
                self.w_maps = float(state["w_maps"])
        else:  # a last.pt written before objectives existed: the DistillLoss state alone
            self.loss.load_state_dict(state)

    def card(self) -> dict[str, Any]:
        return {"recipe": self.trainer.cfg.recipe, "w_feat": round(self.loss.w_feat, 6),
                "w_res": round(self.loss.w_res, 6), "res_loss": "smooth_l1_beta1" if self.res_beta else "l1",
                "calibration": {k: round(v, 6) for k, v in self.calibration.items()},
                "teacher_text": self.trainer.cfg.teacher_text, "teacher_on": self.trainer.cfg.teacher_on,
                **({"prior_share": self.trainer.cfg.prior_share, "w_prior": round(self.w_prior, 6)}
                   if self.prior_probe is not None else {}),
                **({"map_share": self.trainer.cfg.map_share, "w_maps": round(self.w_maps, 6)}
                   if self.trainer.cfg.map_share else {})}


OBJECTIVES = {"student": StudentObjective, "teacher": TeacherObjective, "distill": DistillObjective}


def create_objective(trainer: Any) -> Objective:
    return OBJECTIVES[trainer.cfg.mode](trainer)


def gradient_shares(terms: Mapping[str, Tensor], params: Sequence[nn.Parameter]) -> dict[str, float]:
    """Each weighted term's gradient norm over ``params`` as a share of their sum (keeps the graph)."""
    norms = {}
    for key, term in terms.items():
        grads = torch.autograd.grad(term, list(params), retain_graph=True, allow_unused=True)
        norms[key] = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))
    total = sum(norms.values()) or 1.0
    return {f"gshare_{k}": v / total for k, v in norms.items()}
