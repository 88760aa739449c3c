"""Training configuration: one frozen dataclass for teacher, student and distillation runs."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgefuse.config_types import check_field_types
from edgefuse.errors import ConfigError, reject_unknown
from edgefuse.secrets import redact_obj

MODES = ("teacher", "student", "distill")
TASKS = ("ivf", "medical")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; defaults < YAML < CLI flags.

    ``mode``: ``teacher`` (text-guided, per-event loss weights), ``student`` (fusion loss
    with the default weights, no teacher: the paper's "without distillation" ablation) or
    ``distill`` (student from a frozen ``teacher`` checkpoint, DTPF stage 2).

    Optimiser and schedule follow DTPF (PAPER_SPEC 2.3): AdamW (betas .9/.999, weight
    decay 1e-4), cosine annealing to ``eta_min``; unlike DTPF's code, whose scheduler steps
    every iteration with T_max=500 (a cosine with a 1000-iteration period), ours decays once
    over ``iters``.

    ``device``: ``auto`` (the GPU when torch sees one, else the CPU), ``cpu`` or ``cuda[:N]``;
    under torchrun with CUDA each process takes the GPU of its ``LOCAL_RANK``.
    ``max_minutes`` > 0 stops the run after that much training time in this invocation (a
    resumed run gets the full budget again): it validates and saves
    as at the end (the card records the iterations done); the cosine schedule still spans
    ``iters``, so a stopped run ends at a higher learning rate than a finished one.
    """

    mode: str = "student"
    model: str = "edge_nano"
    model_config: dict[str, Any] = field(default_factory=dict)
    data: tuple[str, ...] = ()
    task: str = "ivf"
    iters: int = 2000
    batch: int = 8
    crop: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    eta_min: float = 1e-6
    seed: int = 3407
    ckpt_every: int = 200
    val_every: int = 200
    val_pairs: int = 4
    holdout: float = 0.05
    workers: int = 0
    threads: int = 0
    device: str = "auto"
    max_minutes: float = 0.0
    out: str = "runs/edge_nano"
    # start from these weights (a checkpoint of the same architecture and config) instead of a
    # random init: fine-tuning, e.g. a clean-trained student made degradation-aware
    init: str | None = None
    # teacher (mode=teacher, and the teacher's text in mode=distill)
    text_encoder: str = "minilm"
    annotator: str = "rules"
    vlm_model: str = "qwen2-vl"
    vlm_timeout: float = 60.0  # seconds for each whole VLM request (connect, headers, answer)
    text_weights: str | None = None  # local CLIP folder (Hugging Face format) for text_encoder "clip"
    # which text the teacher sees: "oracle" (the applied degradation's event, else the pair's
    # annotation), "annotator" (the rule annotator on the degraded crop) or "constant" (one prompt)
    teacher_text: str = "oracle"
    # degradation-aware training (Text-IF): degrade inputs on the fly, fusion-loss targets stay clean
    degrade_types: tuple[str, ...] = ()
    degrade_severities: tuple[int, ...] = (1, 2, 3)
    clean_ratio: float = 0.25
    # distillation: recipe "calibrated" (weights from gradient norms, unless given) or "dtpf"
    teacher: str | None = None
    recipe: str = "calibrated"
    w_feat: float | None = None
    w_res: float | None = None
    w_base: float = 1.0
    # the textual prior itself: a training-only linear probe regresses the teacher's text embedding from the
    # student's global context (the 1/8-level feature mean); its weight gives it this share of the fusion
    # term's gradient norm, set on the first batches like the calibrated weights (0 = off)
    prior_share: float = 0.0
    # the teacher's decisions: L1 between the student's and the teacher's blend maps (IR base weight, IR and
    # visible detail gains; both EdgeFuseNet), with this share of the fusion term's gradient norm (0 = off)
    map_share: float = 0.0
    trainable_adapters: bool = True
    grad_share_every: int = 50  # log each loss term's share of the gradient norm every N iterations
    # where the teacher terms act: "all" samples, only the "degraded" ones (the teacher's output and
    # features as targets where it knows the degradation; clean samples keep the fusion loss alone),
    # or only the "clean" ones (with the starting weights as the teacher: keep what the model did on
    # clean pairs while it learns the degraded ones, "learning without forgetting"), or only where the
    # teacher does "better": its fusion loss against the clean targets below the student's, per sample, or
    # has the higher VIF + Qabf against them ("scored")
    teacher_on: str = "all"
    # an anchor: frozen weights (usually the --init ones) whose output is an L1 target, with weight
    # w_anchor, on the clean samples of a degraded batch (all samples without --degrade): the model keeps
    # what it did on clean pairs while the fusion loss (and a teacher, in distill) act on the degraded
    # ones ("learning without forgetting", Li & Hoiem, ECCV 2016)
    anchor: str | None = None
    w_anchor: float = 80.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.task not in TASKS:
            raise ConfigError(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.mode == "distill" and not self.teacher:
            raise ConfigError("mode 'distill' needs a teacher checkpoint: --teacher runs/teacher/model.safetensors")
        for name in ("iters", "batch", "crop", "ckpt_every", "val_every", "val_pairs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("workers", "threads", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout must be a fraction in (0, 1), got {self.holdout}")
        if self.max_minutes < 0:
            raise ConfigError(f"max_minutes must be >= 0 (0 = no limit), got {self.max_minutes}")
        if not self.vlm_timeout > 0:
            raise ConfigError(f"vlm_timeout must be > 0 seconds, got {self.vlm_timeout}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        from edgefuse.train.objectives import RECIPES, TEACHER_ON, TEXT_SOURCES

        if self.teacher_text not in TEXT_SOURCES:
            raise ConfigError(f"teacher_text {self.teacher_text!r} is not one of {', '.join(TEXT_SOURCES)}")
        if self.recipe not in RECIPES:
            raise ConfigError(f"recipe {self.recipe!r} is not one of {', '.join(RECIPES)}")
        if self.degrade_types:
            from edgefuse.data.degrade import DegradationMix

            DegradationMix(tuple(self.degrade_types), tuple(self.degrade_severities), self.clean_ratio)
        if self.text_encoder == "clip" and not self.text_weights:
            raise ConfigError("text_encoder 'clip' needs --text-weights DIR (a local CLIP folder in Hugging Face "
                              "format); nothing is downloaded")
        if self.teacher_on not in TEACHER_ON:
            raise ConfigError(f"teacher_on {self.teacher_on!r} is not one of {', '.join(TEACHER_ON)}")
        if self.teacher_on in ("degraded", "clean") and self.mode == "distill" and not self.degrade_types:
            raise ConfigError(f"teacher_on {self.teacher_on!r} needs degraded training inputs: add --degrade TYPES")
        if self.anchor is not None and self.mode == "teacher":
            raise ConfigError("--anchor is for students (train --mode student, distill): a teacher's output depends "
                              "on its text")
        if not self.w_anchor > 0:
            raise ConfigError(f"w_anchor must be > 0, got {self.w_anchor}")
        if not 0 <= self.prior_share <= 10:
            raise ConfigError(f"prior_share must be in [0, 10] (0 = off), got {self.prior_share}")
        if self.prior_share and self.mode != "distill":
            raise ConfigError("prior_share is for distillation (the teacher's text is its target)")
        if not 0 <= self.map_share <= 10:
            raise ConfigError(f"map_share must be in [0, 10] (0 = off), got {self.map_share}")
        if self.map_share and self.mode != "distill":
            raise ConfigError("map_share is for distillation (the teacher's blend maps are its target)")
        if self.grad_share_every < 0:
            raise ConfigError(f"grad_share_every must be >= 0 (0 = off), got {self.grad_share_every}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ConfigError(f"device must be auto, cpu or cuda[:N]; got {self.device!r}")
        if not self.data:  # no default folder: the package knows no data set's location
            raise ConfigError("no training data: pass --data DIR (a folder with ir/ + vi/)")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys raise with a did-you-mean."""
        reject_unknown(values, [f.name for f in dataclasses.fields(cls)], "training")
        check_field_types(cls, values, "training")
        vals = dict(values)
        if "data" in vals and isinstance(vals["data"], (list, tuple, str)):
            vals["data"] = (vals["data"],) if isinstance(vals["data"], str) else tuple(vals["data"])
        if isinstance(vals.get("degrade_types"), str):
            from edgefuse.data.degrade import parse_types

            spec = vals["degrade_types"]
            vals["degrade_types"] = parse_types(spec, vals.get("task", "ivf")) if spec else ()
        elif isinstance(vals.get("degrade_types"), list):
            vals["degrade_types"] = tuple(vals["degrade_types"])
        if isinstance(vals.get("degrade_severities"), (str, list)):
            from edgefuse.data.degrade import parse_severities

            vals["degrade_severities"] = parse_severities(vals["degrade_severities"])
        return cls(**vals)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
        """Read a YAML file, then apply ``overrides`` that are not ``None``."""
        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read training config {path}: {e}") from e
        if not isinstance(values, dict):
            raise ConfigError(f"{path} must hold a mapping of options, not {type(values).__name__}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"] = list(self.data)
        d["degrade_types"] = list(self.degrade_types)
        d["degrade_severities"] = list(self.degrade_severities)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(redact_obj(self.to_dict()), sort_keys=False)  # stored: no URL passwords
