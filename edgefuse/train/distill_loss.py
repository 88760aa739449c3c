"""DTPF stage-2 distillation loss: feature, result and base (fusion) terms with 1x1 adapters.

PAPER_SPEC 2.4, i.e. ``TextFusionLoss(stage='distill')`` of the DTPF code
(github.com/Zirconium233/DTPF, paper arXiv 2504.07029). Independent implementation:

    L = w_base * L_fus(F_s; default weights)
        + w_feat * sum_l SmoothL1(n(S_l), n(P_l(T_l)))
        + w_res * SmoothL1(F_t, F_s)

with n(x) = F.normalize(x, dim=1) (per-pixel L2 over channels), SmoothL1 beta 1 / mean, and
P_l 1x1 convolutions (with bias) from teacher to student channels. Teacher outputs and features
are detached here, so the teacher can be run under ``torch.no_grad`` or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.train.losses import IVF_DEFAULT_WEIGHTS, SSIM_WINDOW, FusionLoss

# Decoder features exported by the DTPF models (levels 4, 3, 2, 1; PAPER_SPEC 1.2 item 6 and 2.2).
TEACHER_FEATURE_CHANNELS = (384, 192, 96, 96)
STUDENT_FEATURE_CHANNELS = (128, 64, 32, 32)


class FeatureAdapters(nn.Module):
    """One 1x1 conv (with bias, default PyTorch init) per level mapping teacher to student channels."""

    def __init__(self, teacher_channels: Sequence[int], student_channels: Sequence[int]) -> None:
        super().__init__()
        if len(teacher_channels) != len(student_channels) or not teacher_channels:
            raise ConfigError(
                f"teacher_channels {tuple(teacher_channels)} and student_channels {tuple(student_channels)} "
                "must list the same (non-zero) number of feature levels"
            )
        for c in (*teacher_channels, *student_channels):
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ConfigError(f"feature channel counts must be positive ints, got {c!r}")
        self.teacher_channels = tuple(teacher_channels)
        self.student_channels = tuple(student_channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(t, s, kernel_size=1, bias=True)
            for t, s in zip(teacher_channels, student_channels, strict=True)
        )

    def forward(self, teacher_feats: Sequence[Tensor]) -> list[Tensor]:
        """Project each teacher level to the student's channel count."""
        return [conv(t) for conv, t in zip(self.convs, teacher_feats, strict=True)]


class DistillLoss(nn.Module):
    """DTPF student loss: base fusion loss + normalised feature matching + output matching.

    Args:
        teacher_channels: channels of the teacher features per level (DTPF: 384, 192, 96, 96).
        student_channels: channels of the student features per level (DTPF: 128, 64, 32, 32).
        w_feat, w_res, w_base: term weights (DTPF config ``loss_weights``: 0.1, 1.0, 1.0).
        trainable_adapters: if True the caller adds :meth:`adapter_parameters` to its optimiser
            (and, under DDP, syncs them like model parameters). ``False`` freezes the adapters
            (``requires_grad=False``): fixed random projections, which reproduces DTPF, whose
            adapters live in the loss module and are in no optimiser. Either way the adapters are
            part of this module's ``state_dict``; save it with checkpoints (or seed identically) so a
            resumed run keeps the same projections.
        base_weights: fusion-loss weights of the base term (DTPF "default"; use
            ``MEDICAL_DEFAULT_WEIGHTS`` for medical training).
        teacher_base_term: add w_base * L_fus(F_t) as DTPF does. It is a constant (no gradient),
            so it only shifts the logged value; off by default.
        window_size: SSIM window of the base term.

    Move the module to the training device with ``.to(device)`` (the adapters hold weights).
    """

    def __init__(
        self,
        teacher_channels: Sequence[int],
        student_channels: Sequence[int],
        w_feat: float = 0.1,
        w_res: float = 1.0,
        w_base: float = 1.0,
        trainable_adapters: bool = True,
        base_weights: Mapping[str, float] = IVF_DEFAULT_WEIGHTS,
        teacher_base_term: bool = False,
        window_size: int = SSIM_WINDOW,
    ) -> None:
        super().__init__()
        for label, v in (("w_feat", w_feat), ("w_res", w_res), ("w_base", w_base)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0:
                raise ConfigError(f"{label}={v!r} must be a number >= 0")
        self.adapters = FeatureAdapters(teacher_channels, student_channels)
        self.adapters.requires_grad_(trainable_adapters)
        self.trainable_adapters = bool(trainable_adapters)
        self.base = FusionLoss(base_weights, window_size)
        self.w_feat, self.w_res, self.w_base = float(w_feat), float(w_res), float(w_base)
        self.teacher_base_term = bool(teacher_base_term)

    def adapter_parameters(self) -> list[nn.Parameter]:
        """Parameters to add to the optimiser: the adapters' when trainable, else an empty list."""
        return list(self.adapters.parameters()) if self.trainable_adapters else []

    def _check(
        self, fused_s: Tensor, fused_t: Tensor, feats_s: Sequence[Tensor], feats_t: Sequence[Tensor]
    ) -> None:
        if fused_s.shape != fused_t.shape:
            raise ShapeMismatchError(
                f"student output {tuple(fused_s.shape)} and teacher output {tuple(fused_t.shape)} differ"
            )
        levels = len(self.adapters.convs)
        if len(feats_s) != levels or len(feats_t) != levels:
            raise ShapeMismatchError(
                f"expected {levels} feature levels from both models, got {len(feats_s)} student and "
                f"{len(feats_t)} teacher features"
            )
        for lvl, (s, t) in enumerate(zip(feats_s, feats_t, strict=True)):
            want_t, want_s = self.adapters.teacher_channels[lvl], self.adapters.student_channels[lvl]
            if s.ndim != 4 or t.ndim != 4 or s.shape[0] != t.shape[0] or s.shape[2:] != t.shape[2:]:
                raise ShapeMismatchError(
                    f"feature level {lvl}: student {tuple(s.shape)} and teacher {tuple(t.shape)} must be "
                    "4-D with the same batch and spatial size; both models must see the same input crop"
                )
            if t.shape[1] != want_t or s.shape[1] != want_s:
                raise ShapeMismatchError(
                    f"feature level {lvl}: adapters expect teacher {want_t} -> student {want_s} channels, "
                    f"got teacher {t.shape[1]} and student {s.shape[1]}; check teacher_channels and "
                    "student_channels"
                )

    def feature_loss(self, feats_s: Sequence[Tensor], feats_t: Sequence[Tensor]) -> Tensor:
        """Unweighted sum over levels of SmoothL1(n(S_l), n(P_l(T_l))); teacher features detached."""
        teacher = [t.detach() for t in feats_t]
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable_adapters):
            projected = self.adapters(teacher)
        total = feats_s[0].new_zeros(())
        for s, p in zip(feats_s, projected, strict=True):
            total = total + F.smooth_l1_loss(F.normalize(s, dim=1), F.normalize(p, dim=1), beta=1.0)
        return total

    def forward(
        self,
        fused_s: Tensor,
        fused_t: Tensor,
        feats_s: Sequence[Tensor],
        feats_t: Sequence[Tensor],
        vis: Tensor,
        ir: Tensor,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return (total, components).

        Args:
            fused_s, fused_t: student / teacher fused outputs (N, 3, H, W).
            feats_s, feats_t: per-level decoder features in the same level order as the
                channel lists (the models' ``return_features`` order).
            vis, ir: the network inputs (N, 3, H, W) and (N, 1, H, W) in [0, 1].

        Components (detached): ``feat``, ``res``, ``base`` (weighted), the base term's weighted
        parts as ``base_<name>``, and ``teacher_base`` when ``teacher_base_term`` is set.
        """
        self._check(fused_s, fused_t, feats_s, feats_t)
        fused_t = fused_t.detach()
        base, base_parts = self.base(fused_s, vis, ir)
        feat = self.w_feat * self.feature_loss(feats_s, feats_t)
        res = self.w_res * F.smooth_l1_loss(fused_t, fused_s, beta=1.0)
        base = self.w_base * base
        total = base + feat + res
        components = {"feat": feat.detach(), "res": res.detach(), "base": base.detach()}
        components.update({f"base_{k}": self.w_base * v for k, v in base_parts.items()})
        if self.teacher_base_term:
            with torch.no_grad():
                teacher_base = self.w_base * self.base(fused_t, vis, ir)[0]
            total = total + teacher_base
            components["teacher_base"] = teacher_base
        return total, components

    def extra_repr(self) -> str:
        return (
            f"w_feat={self.w_feat:g}, w_res={self.w_res:g}, w_base={self.w_base:g}, "
            f"trainable_adapters={self.trainable_adapters}, teacher_base_term={self.teacher_base_term}"
        )
