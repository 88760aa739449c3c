"""``edgefuse train`` and ``edgefuse distill``: training runs, single process or torchrun DDP."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

from edgefuse.cli.progress import progress


def _common(fn: Any) -> Any:
    opts = [
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                     help="YAML file of training options (flags override it)."),
        click.option("--model", help="Model name (see `edgefuse list`)."),
        click.option("--data", multiple=True, help="Training dataset folder (repeatable); never a test split."),
        click.option("--task", type=click.Choice(["ivf", "medical"]), help="Loss weights and prompts."),
        click.option("--iters", type=int, help="Training iterations."),
        click.option("--batch", type=int, help="Batch size per process."),
        click.option("--crop", type=int, help="Random crop size."),
        click.option("--lr", type=float, help="AdamW learning rate."),
        click.option("--seed", type=int, help="Random seed."),
        click.option("--out", help="Run folder (checkpoints, log.csv, resolved_config.yaml)."),
        click.option("--ckpt-every", type=int, help="Save last.pt every N iterations."),
        click.option("--val-every", type=int, help="Validate and save weights every N iterations."),
        click.option("--val-pairs", type=int, help="Held-out pairs scored per validation."),
        click.option("--threads", type=int, help="torch CPU threads (0 = torch default)."),
        click.option("--workers", type=int, help="DataLoader worker processes."),
        click.option("--device", help="auto (GPU if torch sees one; default), cpu or cuda[:N]."),
        click.option("--max-minutes", type=float,
                     help="Stop after this much training time (validates and saves first); 0 = no limit."),
        click.option("--vlm-timeout", type=float, help="Seconds for each whole VLM annotator request (default 60)."),
        click.option("--init", type=click.Path(exists=True, dir_okay=False),
                     help="Start from this checkpoint's weights (same architecture) instead of a random init."),
        click.option("--no-resume", is_flag=True, help="Start over even if OUT/last.pt exists."),
        click.option("--degrade", "degrade_types", metavar="TYPES",
                     help="Degrade inputs on the fly (comma list of `edgefuse degrade` types, or all); the "
                          "fusion-loss targets stay the clean crops."),
        click.option("--degrade-severity", "degrade_severities", help="Severities drawn for --degrade (e.g. 1,2,3)."),
        click.option("--clean-ratio", type=float, help="Share of samples left clean under --degrade (default 0.25)."),
        click.option("--teacher-text", type=click.Choice(["oracle", "annotator", "constant"]),
                     help="Teacher text: the applied degradation's event (oracle, default), the rule annotator "
                          "on the crop, or one constant prompt."),
        click.option("--anchor", type=click.Path(exists=True, dir_okay=False),
                     help="Frozen weights (usually the --init ones) whose output is an L1 target on the clean samples "
                          "(all samples without --degrade); students only."),
        click.option("--w-anchor", type=float, help="Weight of the --anchor term (default 80)."),
        click.option("--grad-share-every", type=int,
                     help="Log each loss term's share of the gradient norm every N iterations (0 = off)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _init_distributed(device: str) -> None:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1): NCCL on GPUs, else gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    import torch
    import torch.distributed as dist

    backend = "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)


def _run(mode: str, kwargs: dict[str, Any]) -> None:
    from edgefuse.train.config import TrainConfig
    from edgefuse.train.loop import train

    config_path = kwargs.pop("config_path")
    no_resume = kwargs.pop("no_resume")
    data = kwargs.pop("data")
    values = {k: v for k, v in kwargs.items() if v is not None}
    if data:
        values["data"] = list(data)
    values["mode"] = mode
    cfg = TrainConfig.from_yaml(config_path, **values) if config_path else TrainConfig.from_dict(values)
    command = "edgefuse " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _init_distributed(cfg.device)
    with progress(cfg.iters, f"{mode} {cfg.model}") as bar:
        def on_iter(it: int, values: dict[str, float]) -> None:
            bar.update(it - bar.n)
            bar.set_postfix(loss=f"{values['loss']:.4f}")

        weights = train(cfg, command=command, resume=not no_resume, on_iter=on_iter)
    click.echo(f"wrote {weights} (log: {cfg.out}/log.csv)")


@click.command("train")
@_common
@click.option("--mode", type=click.Choice(["teacher", "student"]), default="teacher", show_default=True,
              help="teacher: text-guided with per-event weights; student: plain fusion loss, no teacher.")
@click.option("--text-encoder", help="Text encoder for the teacher: minilm (default) or clip.")
@click.option("--text-weights", type=click.Path(exists=True, file_okay=False),
              help="Local CLIP folder (Hugging Face format) for --text-encoder clip.")
@click.option("--annotator", help="'rules' or an OpenAI-compatible chat endpoint URL.")
def train_cmd(mode: str, **kwargs: Any) -> None:
    """Train a teacher (text priors) or a student without distillation."""
    _run(mode, kwargs)


@click.command("distill")
@_common
@click.option("--teacher", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Teacher checkpoint (.safetensors with its .json card).")
@click.option("--recipe", type=click.Choice(["calibrated", "dtpf"]),
              help="calibrated (default): L1 output matching, weights set from gradient norms on the first "
                   "batches; dtpf: DTPF's weights as coded (w_feat 0.1, w_res 1.0, SmoothL1 beta 1).")
@click.option("--w-feat", type=float, help="Feature loss weight (overrides the recipe).")
@click.option("--w-res", type=float, help="Output matching weight (overrides the recipe).")
@click.option("--teacher-on", type=click.Choice(["all", "degraded", "clean", "better", "scored"]),
              help="Samples the teacher terms act on: all (default), only the degraded ones, or only the clean ones "
                   "(needs --degrade); the others train on the fusion loss alone. 'clean' with the starting weights "
                   "as the teacher keeps their clean-pair output while the student learns the degraded pairs. "
                   "'better': only the samples where the teacher's fusion loss is below the student's current one "
                   "(a teacher-bounded gate); 'scored': only where the teacher's fused crop has the higher VIF + "
                   "Qabf against the clean sources.")
@click.option("--prior-share", type=float,
              help="Regress the teacher's text embedding from the student's global context (a training-only "
                   "probe), with this share of the fusion term's gradient norm (default 0: off).")
@click.option("--map-share", type=float,
              help="Match the teacher's blend maps (IR base weight, IR and visible detail gains; edge models), with "
                   "this share of the fusion term's gradient norm (default 0: off).")
@click.option("--fixed-adapters", "fixed", is_flag=True,
              help="Keep the teacher->student adapters at their random init, as DTPF's code does.")
def distill_cmd(fixed: bool, **kwargs: Any) -> None:
    """Distill a student from a frozen teacher (DTPF stage 2)."""
    if fixed:
        kwargs["trainable_adapters"] = False
    _run("distill", kwargs)
