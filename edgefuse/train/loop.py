"""The training loop for teachers, students and distillation; single process or torchrun DDP.

Iteration-based, as DTPF (PAPER_SPEC 2.3): AdamW, cosine decay, paired random crops with
identical flips/rotations, periodic validation on a held-out slice of the training data,
a CSV log, ``last.pt`` for resuming and ``model.safetensors`` + JSON card for use.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from edgefuse.errors import ConfigError
from edgefuse.files import atomic_path, write_text_atomic
from edgefuse.models.checkpoint import file_sha256, load_checkpoint, load_state, resume_errors, save_checkpoint, save_state
from edgefuse.models.profile import count_params
from edgefuse.models.registry import create_model
from edgefuse.secrets import redact_obj
from edgefuse.train.config import TrainConfig
from edgefuse.train.dataset import FullImageDataset, PairedCropDataset, collate_samples
from edgefuse.train.losses import IVF_DEFAULT_WEIGHTS, MEDICAL_DEFAULT_WEIGHTS
from edgefuse.train.objectives import create_objective, gradient_shares
from edgefuse.train.validate import validate

logger = logging.getLogger(__name__)

LOG_EVERY = 10


def _dist() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def resolve_device(spec: str, world: int = 1) -> torch.device:
    """``auto`` -> the GPU when torch sees one, else the CPU; plain ``cuda`` under torchrun -> ``cuda:LOCAL_RANK``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {spec} asked for, but torch {torch.__version__} sees no CUDA GPU here; "
                          "use --device cpu (or auto)")
    if spec == "cuda" and world > 1:
        spec = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    device = torch.device(spec)
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {spec}: torch sees {torch.cuda.device_count()} GPU(s)")
    torch.cuda.set_device(device)
    # TF32 matmuls/convolutions on Ampere and newer: FP32 training at tensor-core speed
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    return device


class Trainer:
    """Builds data, models and losses from a :class:`TrainConfig` and runs the loop."""

    def __init__(self, cfg: TrainConfig, command: str = "") -> None:
        self.cfg, self.command = cfg, command
        self.rank, self.world = _dist()
        self.out = Path(cfg.out)
        self.default_weights = dict(MEDICAL_DEFAULT_WEIGHTS if cfg.task == "medical" else IVF_DEFAULT_WEIGHTS)
        torch.manual_seed(cfg.seed + self.rank)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device, self.world)
        self.events: dict[tuple[str, str], tuple[str, ...]] | None = None
        self.prompts = None
        self.teacher: nn.Module | None = None
        self.teacher_card: dict[str, Any] = {}
        self.teacher_sha256: str | None = None
        self._setup_text_and_teacher()
        self.model = self._build_model().to(self.device)
        self.anchor, self.anchor_sha256 = self._load_anchor()
        self.degrade = self._build_degradation()
        self.objective = create_objective(self)
        params = [p for p in self.model.parameters() if p.requires_grad]
        params += list(self.objective.extra_parameters())
        self.optim = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.optim, T_max=cfg.iters, eta_min=cfg.eta_min)
        self.ddp_model: nn.Module = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.iteration = 0
        self.best_quality = -math.inf
        self.seconds = 0.0

    # ----------------------------------------------------------------------------- setup
    def _needs_text(self) -> bool:
        return self.cfg.mode == "teacher" or (self.cfg.mode == "distill" and self.teacher_card.get("text_dim"))

    def _setup_text_and_teacher(self) -> None:
        cfg = self.cfg
        encoder_name, weights = cfg.text_encoder, cfg.text_weights
        if cfg.mode == "distill":
            self.teacher, self.teacher_card = load_checkpoint(cfg.teacher)  # type: ignore[arg-type]
            self.teacher_sha256 = file_sha256(cfg.teacher)  # type: ignore[arg-type]  # once: cards and last.pt reuse it
            self.teacher.requires_grad_(False).eval().to(self.device)
            self.teacher_card["text_dim"] = self.teacher.text_dim
            training = self.teacher_card.get("training", {})
            encoder_name = training.get("text_encoder", encoder_name)
            weights = training.get("text_weights", weights)
        if not self._needs_text():
            return
        from edgefuse.text.priors import PromptBank, annotate_roots, check_text_encoder

        check_text_encoder(encoder_name, weights)  # a wrong --text-weights fails before anything is written

        self.events = annotate_roots(cfg.data, cfg.annotator, cfg.task, cfg.vlm_model, cfg.vlm_timeout)
        self.prompts = PromptBank(encoder_name, cfg.task, self.out.parent / ".text_cache", weights)
        self.prompts.prepare(list(self.events.values()))
        self.text_encoder_name, self.text_weights = encoder_name, weights

    def _load_anchor(self) -> tuple[nn.Module | None, str | None]:
        """The frozen ``--anchor`` network (its own architecture and card) and its weights' sha256."""
        if not self.cfg.anchor:
            return None, None
        anchor, _card = load_checkpoint(self.cfg.anchor)
        if anchor.text_dim:
            raise ConfigError(f"--anchor {self.cfg.anchor} takes text; anchor to a student's weights")
        return anchor.requires_grad_(False).eval().to(self.device), file_sha256(self.cfg.anchor)

    def _build_degradation(self) -> Any:
        if not self.cfg.degrade_types:
            return None
        from edgefuse.data.degrade import DegradationMix, check_type

        for kind in self.cfg.degrade_types:
            check_type(kind, self.cfg.task)
        return DegradationMix(tuple(self.cfg.degrade_types), tuple(self.cfg.degrade_severities), self.cfg.clean_ratio)

    def true_events(self, batch: dict[str, Any]) -> list[tuple[str, ...]]:
        """Per sample: the applied degradation's event, else the pair's annotated events."""
        from edgefuse.data.degrade import DEGRADATIONS

        kinds = batch.get("degradation") or [None] * len(batch["events"])
        return [(DEGRADATIONS[k].event,) if k not in (None, "clean") else tuple(e)
                for k, e in zip(kinds, batch["events"], strict=True)]

    def text_events(self, batch: dict[str, Any]) -> list[tuple[str, ...]]:
        """The event lists whose prompts the teacher sees (``teacher_text``)."""
        from edgefuse.text.events import GENERIC_EVENT

        n = len(batch["events"])
        if self.cfg.teacher_text == "constant":
            return [(GENERIC_EVENT,)] * n
        if self.cfg.teacher_text == "annotator":
            return self._annotate_crops(batch)
        return batch["true_events"] if "true_events" in batch else self.true_events(batch)

    def _annotate_crops(self, batch: dict[str, Any]) -> list[tuple[str, ...]]:
        from edgefuse.data.images import u8_from_float
        from edgefuse.data.pairs import LoadedPair
        from edgefuse.text import RuleAnnotator

        annotator = RuleAnnotator()
        out = []
        for vis, ir in zip(batch["vis"], batch["ir"], strict=True):
            pair = LoadedPair("crop", u8_from_float(ir[0].numpy()), u8_from_float(vis.permute(1, 2, 0).numpy()))
            out.append(tuple(annotator.annotate(pair, self.cfg.task).events))
        return out

    def text_for(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """(N, text_dim) prompt embeddings of a batch for the teacher, or None without text."""
        if self.prompts is None:
            return None
        return self.prompts.batch(self.text_events(batch)).to(self.device)

    def _build_model(self) -> nn.Module:
        overrides = dict(self.cfg.model_config)
        if self.cfg.mode == "teacher":
            overrides.setdefault("text_dim", self.prompts.dim)  # type: ignore[union-attr]
            overrides.setdefault("clamp_output", False)
        model = create_model(self.cfg.model, **overrides)
        if self.cfg.mode != "teacher" and model.text_dim:
            raise_cfg = f"model {self.cfg.model!r} takes text; train it with mode 'teacher'"
            from edgefuse.errors import ConfigError

            raise ConfigError(raise_cfg)
        self.model_overrides = overrides
        if self.cfg.init:
            self._load_init(model)
        return model

    def _load_init(self, model: nn.Module) -> None:
        """Start from ``cfg.init``: every tensor of the checkpoint must fit the model by name and shape;
        modules the model has in addition (e.g. ``edge_nano_rx``'s IR gain on ``edge_nano`` weights) keep their
        init (zero-initialised ones start as the identity) and are listed in the card."""
        from edgefuse.errors import ConfigError

        start, _card = load_checkpoint(self.cfg.init)
        have, given = model.state_dict(), start.state_dict()
        extra = sorted(set(given) - set(have))
        wrong = sorted(k for k in set(given) & set(have) if given[k].shape != have[k].shape)
        if extra or wrong:
            what = "; ".join(f"{len(v)} {lbl} (e.g. {', '.join(v[:3])})" for lbl, v in
                             (("not in this model", extra), ("of another shape", wrong)) if v)
            raise ConfigError(f"--init {self.cfg.init} does not fit {self.cfg.model}: {what}; start from a checkpoint "
                              "of the same architecture")
        model.load_state_dict(given, strict=False)
        self.init_new = sorted(set(have) - set(given))
        self.init_sha256 = file_sha256(self.cfg.init)

    def _event_lookup(self) -> Callable[[Path, str], tuple[str, ...]] | None:
        if self.events is None:
            return None
        events = self.events
        return lambda root, name: events[(str(Path(root).resolve()), name)]

    def _batches(self) -> Iterator[dict[str, Any]]:
        cfg = self.cfg
        ds = PairedCropDataset(
            list(cfg.data), crop=cfg.crop, seed=cfg.seed, events=self._event_lookup(),
            samples_per_epoch=max(cfg.batch * 50, cfg.batch), holdout_fraction=cfg.holdout,
            degrade=self.degrade,
        )
        sampler = DistributedSampler(ds, self.world, self.rank, shuffle=True, seed=cfg.seed) if self.world > 1 else None
        loader = DataLoader(ds, batch_size=cfg.batch, shuffle=sampler is None, sampler=sampler,
                            num_workers=cfg.workers, collate_fn=collate_samples, drop_last=True,
                            pin_memory=self.device.type == "cuda")
        epoch = 0
        while True:
            ds.set_epoch(epoch)
            if sampler is not None:
                sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    # ----------------------------------------------------------------------------- steps
    def _step(self, batch: dict[str, Any]) -> dict[str, float]:
        if "events" in batch:
            batch["true_events"] = self.true_events(batch)
            batch["events"] = batch["true_events"]
        terms, parts = self.objective.terms(self.ddp_model, batch)
        loss = sum(terms.values())
        values: dict[str, float] = {}
        every = self.cfg.grad_share_every
        if every and len(terms) > 1 and (self.iteration + 1) % every == 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            values.update(gradient_shares(terms, params))
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self._sync_adapter_grads()
        self.optim.step()
        self.sched.step()
        values.update({k: float(v.detach()) for k, v in terms.items()} if len(terms) > 1 else {})
        return {"loss": float(loss.detach()), **{k: float(v) for k, v in parts.items()}, **values}

    def _sync_adapter_grads(self) -> None:
        extra = self.objective.extra_parameters()
        if self.world == 1 or not extra:
            return
        for p in extra:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world

    # ----------------------------------------------------------------------------- state
    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "optim": self.optim.state_dict(),
            "sched": self.sched.state_dict(), "iteration": self.iteration,
            "loss_module": self.objective.state_dict(),
            "best_quality": self.best_quality, "seconds": self.seconds,
            "rng": torch.get_rng_state(), "config": redact_obj(self.cfg.to_dict()),
            "teacher_sha256": self.teacher_sha256, "anchor_sha256": self.anchor_sha256,
        }

    def resume(self) -> bool:
        """Load ``out/last.pt`` if it exists; return whether a run was resumed."""
        path = self.out / "last.pt"
        if not path.is_file():
            return False
        state = load_state(path, ("model", "optim", "sched", "iteration", "best_quality", "rng"))
        if self.cfg.mode == "distill" and state.get("teacher_sha256"):
            now = self.teacher_sha256
            if now != state["teacher_sha256"]:
                raise ConfigError(
                    f"{path} was distilled from another teacher (sha256 {state['teacher_sha256'][:12]}, "
                    f"--teacher {self.cfg.teacher} is {now[:12]}): resuming would mix two teachers; "
                    "pass --no-resume or a new --out")
        if state.get("anchor_sha256") != self.anchor_sha256 and "anchor_sha256" in state:
            raise ConfigError(f"{path} was trained with another --anchor (or none): pass --no-resume or a new --out")
        with resume_errors(path):
            self.model.load_state_dict(state["model"])
            self.optim.load_state_dict(state["optim"])
            self.sched.load_state_dict(state["sched"])
            if state.get("loss_module"):
                self.objective.load_state_dict(state["loss_module"])
            self.iteration, self.best_quality = int(state["iteration"]), float(state["best_quality"])
            self.seconds = float(state.get("seconds", 0.0))
            torch.set_rng_state(state["rng"])
        logger.info("resumed %s at iteration %d", path, self.iteration)
        return True

    def _save_last(self) -> None:
        save_state(self.out / "last.pt", self._state())

    def card(self, metrics: dict[str, float] | None) -> dict[str, Any]:
        cfg = self.cfg
        training = {
            "command": self.command, "mode": cfg.mode, "data": list(cfg.data), "task": cfg.task,
            "iterations": self.iteration, "batch": cfg.batch, "crop": cfg.crop, "lr": cfg.lr,
            "seconds": round(self.seconds, 1), "world_size": self.world,
            "device": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
        }
        if cfg.max_minutes > 0:
            training.update(max_minutes=cfg.max_minutes, stopped_by_time_limit=self.iteration < cfg.iters)
        if self.prompts is not None:
            training.update(text_encoder=self.text_encoder_name, annotator=cfg.annotator)
            if self.text_weights:
                training.update(text_weights=str(self.text_weights))
        if self.degrade is not None:
            training.update(degradation={"types": list(cfg.degrade_types), "severities": list(cfg.degrade_severities),
                                         "clean_ratio": cfg.clean_ratio, "targets": "clean"})
        if cfg.init:
            training.update(init=str(cfg.init), init_sha256=getattr(self, "init_sha256", None),
                            init_new_parameters=getattr(self, "init_new", []))
        if cfg.mode == "distill":
            training.update(teacher=str(cfg.teacher), teacher_sha256=self.teacher_sha256,
                            trainable_adapters=cfg.trainable_adapters)
        if cfg.anchor:
            training.update(anchor=str(cfg.anchor), anchor_sha256=self.anchor_sha256, w_anchor=cfg.w_anchor,
                            anchor_on="clean" if self.degrade is not None else "all")
        training.update(self.objective.card())
        return redact_obj({"training": training, "metrics": {"holdout": metrics or {}}})

    # ----------------------------------------------------------------------------- loop
    def validate(self) -> dict[str, float]:
        ds = FullImageDataset(list(self.cfg.data), events=self._event_lookup(), holdout_fraction=self.cfg.holdout)
        # only a teacher takes text; in distillation the prompts feed the frozen teacher, not the student
        text_fn = None
        if self.cfg.mode == "teacher" and self.prompts is not None:
            def text_fn(ev: Any) -> torch.Tensor:
                return self.prompts.batch(self.text_events({"events": [tuple(ev)]}))  # type: ignore[union-attr]
        return validate(self.model, ds, self.cfg.val_pairs, text_fn)

    def run(self, on_iter: Callable[[int, dict[str, float]], None] | None = None) -> Path:
        """Train until ``cfg.iters``; return the path of the final weights."""
        cfg = self.cfg
        main = self.rank == 0
        batches = self._batches()
        batches = itertools.chain([next(batches)], batches)  # the data are read and checked before anything is written
        if main:
            write_text_atomic(self.out / "resolved_config.yaml", cfg.to_yaml())
            logger.info("training %s (%d params) mode=%s for %d iterations -> %s",
                        cfg.model, count_params(self.model), cfg.mode, cfg.iters, self.out)
        log = _CsvLog(self.out / "log.csv") if main else None
        self.model.train()
        calibrate = getattr(self.objective, "calibrate", None)
        if calibrate is not None and self.iteration == 0:
            from edgefuse.train.objectives import CALIBRATION_BATCHES

            calibrate(self.model, [next(batches) for _ in range(CALIBRATION_BATCHES)])
        budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
        session_start = self.seconds
        while self.iteration < cfg.iters:
            if budget < math.inf and self._out_of_time(self.seconds - session_start >= budget):
                logger.info("stopping at iteration %d: --max-minutes %g reached", self.iteration, cfg.max_minutes)
                if main:
                    self._validate_and_save(log)
                break
            start = time.perf_counter()
            values = self._step(next(batches))
            self.seconds += time.perf_counter() - start
            self.iteration += 1
            if on_iter:
                on_iter(self.iteration, values)
            if log and (self.iteration % LOG_EVERY == 0 or self.iteration == cfg.iters):
                log.write({"iteration": self.iteration, "lr": self.sched.get_last_lr()[0],
                           "seconds": round(self.seconds, 2), **values})
            if main and (self.iteration % cfg.val_every == 0 or self.iteration == cfg.iters):
                self._validate_and_save(log)
            if main and self.iteration % cfg.ckpt_every == 0:
                self._save_last()
        if main:
            self._save_last()
        if self.world > 1:
            dist.barrier()
        return self.out / "model.safetensors"

    def _out_of_time(self, mine: bool) -> bool:
        """Whether to stop for the time limit; under DDP all ranks stop together (rank 0 decides)."""
        if self.world == 1:
            return mine
        flag = torch.tensor([1.0 if mine else 0.0], device=self.device if self.device.type == "cuda" else "cpu")
        dist.broadcast(flag, 0)
        return bool(flag.item())

    def _validate_and_save(self, log: _CsvLog | None) -> None:
        metrics = self.validate()
        self.model.train()
        if log:
            log.write({"iteration": self.iteration, **{f"val_{k}": v for k, v in metrics.items()}})
        card = self.card(metrics)
        save_checkpoint(self.model, self.out / "model.safetensors", self.cfg.model, self.model_overrides, card)
        if metrics.get("quality", -math.inf) > self.best_quality:
            self.best_quality = metrics["quality"]
            save_checkpoint(self.model, self.out / "best.safetensors", self.cfg.model, self.model_overrides, card)
        logger.info("iteration %d: %s", self.iteration,
                    ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


class _CsvLog:
    """Appends dict rows to a CSV file, extending the header when new keys appear."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as f:
                self.rows = list(csv.DictReader(f))

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)


def train(cfg: TrainConfig, command: str = "", resume: bool = True,
          on_iter: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Run a training job described by ``cfg``; resume from ``cfg.out/last.pt`` if asked."""
    trainer = Trainer(cfg, command)
    if resume:
        trainer.resume()
    return trainer.run(on_iter)
