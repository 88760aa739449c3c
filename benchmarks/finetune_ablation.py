"""Degradation-aware fine-tuning of the shipped student, with and without its teacher.

The from-scratch ablation (``benchmarks/ablation.py``) trains every arm for 800 iterations at crop 96,
which leaves the students below the shipped default on clean data. Here both student arms start from
the same weights (``--init``, the shipped ``edge_nano_ivf``) and get the same iterations, data,
degradations and seeds; they differ only in the teacher:

    ft_plain        edgefuse train --mode student --init DEFAULT  (fusion loss, clean targets)
    ft_distilled    edgefuse distill --teacher TEACHER --init DEFAULT  (calibrated recipe)
    ft_distilled_deg  the same with --teacher-on degraded: the teacher's output and features are
                    targets on the degraded samples only, clean samples train on the fusion loss
                    (the teacher is worse than the student on clean msrs/test, better on the suites)
    start           the starting weights themselves (seed 0 only: nothing random)
    ft_anchor       edgefuse distill --teacher START_CLAMP --teacher-on clean: no text teacher; the starting
                    weights (with the clamp) are the target on clean samples, the fusion loss on degraded
                    ones ("learning without forgetting", Li & Hoiem, ECCV 2016)
    start_clamp     the starting weights with the IR black-level clamp (``edge_nano_agc``, no training)
    ft_anchor_plain edgefuse train --mode student --anchor START_CLAMP: the fusion loss on every sample plus
                    the starting weights' output as an L1 target on the clean ones (``--w-anchor``)
    ft_anchor_kd    edgefuse distill --teacher TEACHER --teacher-on degraded --anchor START_CLAMP: the same, with
                    the text teacher's output and features as targets on the degraded samples; against
                    ft_anchor_plain it isolates what the teacher adds when clean behaviour is held fixed
    ft_anchor_better edgefuse distill --teacher TEACHER --teacher-on better --anchor START_CLAMP: as ft_anchor_kd,
                    but a sample takes the teacher's targets only where the teacher's fusion loss against the clean
                    sources is below the student's (a teacher-bounded gate, clean or degraded alike)
    ft_anchor_scored the same gate judged by VIF + Qabf of the two fused crops against the clean sources
                    (--teacher-on scored)

With ``--teacher-init CKPT`` (e.g. the shipped ``edge_teacher_ivf``) the teacher is fine-tuned the
same way first (``teacher_ft``, seed 1: ``edgefuse train --mode teacher --init CKPT --teacher-text oracle``,
same degradations and iterations) and the distilled arm learns from it.

Evaluation and report are those of ``benchmarks/ablation.py`` (clean test splits, the degradation
suite of each test split scored against the clean sources, mean ± std over seeds, paired differences
with 95 % t intervals).

Usage (repository root)::

    python benchmarks/finetune_ablation.py --stage all --seeds 1,2,3 --iters 800 --jobs 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablation as ab  # noqa: E402  (the evaluation and statistics of the main ablation)

ROOT = ab.ROOT
ARMS = ("ft_plain", "ft_distilled")
ALL_ARMS = ("ft_plain", "ft_distilled", "ft_distilled_deg", "ft_anchor", "ft_anchor_plain", "ft_anchor_kd",
            "ft_anchor_better", "ft_anchor_scored")
ANCHORED = ("ft_anchor", "ft_anchor_plain", "ft_anchor_kd", "ft_anchor_better", "ft_anchor_scored")
DEFAULT_INIT = ROOT / "edgefuse" / "assets" / "models" / "edge_nano_ivf.safetensors"
DEFAULT_TEACHER = ROOT / "benchmarks" / "results" / "weights" / "teacher_text.safetensors"


def train_command(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    out = Path(args.out) / f"{arm}_s{seed}"
    init = args.teacher_init if arm == "teacher_ft" else args.init
    common = [f"--data={d}" for d in ab.IVF_TRAIN] + [
        "--iters", str(args.iters), "--batch", str(args.batch), "--crop", str(args.crop), "--lr", str(args.lr),
        "--seed", str(seed), "--val-every", str(args.iters), "--val-pairs", "4", "--ckpt-every", "100",
        "--threads", "1", "--degrade", args.degrade, "--clean-ratio", str(args.clean_ratio),
        "--init", str(init), "--out", str(out)]
    if arm == "teacher_ft":
        return ["edgefuse", "train", "--mode", "teacher", "--model", "edge_teacher", "--teacher-text", "oracle",
                *common]
    anchor = ["--anchor", str(Path(args.out) / "start_clamp_s0" / "model.safetensors"), "--w-anchor",
              str(args.w_anchor)]
    if arm == "ft_plain":
        return ["edgefuse", "train", "--mode", "student", "--model", args.model, *common]
    if arm == "ft_anchor_plain":
        return ["edgefuse", "train", "--mode", "student", "--model", args.model, "--grad-share-every", "25",
                *anchor, *common]
    extra = ["--teacher-on", "degraded"] if arm in ("ft_distilled_deg", "ft_anchor_kd") else []
    if arm == "ft_anchor_kd":
        extra += anchor
    if arm in ("ft_anchor_better", "ft_anchor_scored"):
        extra = ["--teacher-on", arm.rsplit("_", 1)[1], *anchor]
    teacher = args.teacher
    if arm == "ft_anchor":
        # the student starts equal to its anchor, so the calibration finds no output gradient to scale;
        # 80 is about the output weight the calibration gave the text teacher in ft_distilled (64-84)
        extra = ["--teacher-on", "clean", "--w-res", "80"]
        teacher = str(Path(args.out) / "start_clamp_s0" / "model.safetensors")
    return ["edgefuse", "distill", "--teacher", teacher, "--model", args.model, "--recipe", "calibrated",
            "--grad-share-every", "25", *extra, *common]


def stage_train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = out / "start_s0"
    if not (start / "model.json").is_file():
        start.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.init, start / "model.safetensors")
        shutil.copyfile(Path(args.init).with_suffix(".json"), start / "model.json")
    if set(ANCHORED) & set(args.arms):
        _start_clamp(args)
    order = [("teacher_ft", args.seeds[0])] if args.teacher_init else []
    order += [(arm, seed) for seed in args.seeds for arm in args.arms]
    for arm, seed in order:
        if ab._done(arm, seed, args):
            continue
        t0 = time.time()
        rc, sec = ab._run(train_command(arm, seed, args), out / f"{arm}_s{seed}.out")
        line = f"{arm} seed {seed}: exit {rc} in {sec:.0f} s"
        print(line, flush=True)
        with open(out / "train_log.txt", "a") as f:
            f.write(line + f" (started {time.strftime('%H:%M:%S', time.gmtime(t0))} UTC)\n")
        if rc != 0:
            sys.exit(f"training {arm} seed {seed} failed; see {out / f'{arm}_s{seed}.out'}")


def _start_clamp(args: argparse.Namespace) -> None:
    """``start_clamp_s0``: the starting weights under ``edge_nano_agc`` (the clamp has no parameters)."""
    dest = Path(args.out) / "start_clamp_s0"
    if (dest / "model.json").is_file():
        return
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.init, dest / "model.safetensors")
    card = json.loads(Path(args.init).with_suffix(".json").read_text())
    card.update(architecture="edge_nano_agc", config={})
    (dest / "model.json").write_text(json.dumps(card, indent=1) + "\n")


def stage_eval(args: argparse.Namespace) -> None:
    suites = ab.build_suites(args)
    _start_clamp(args)
    jobs = [("start", 0), ("start_clamp", 0)] + ([("teacher_ft", args.seeds[0])] if args.teacher_init else [])
    jobs += [(a, s) for s in args.seeds for a in args.arms]
    for arm, seed in jobs:
        ab.evaluate_arm(arm, seed, args, suites)
        print(f"evaluated {arm} seed {seed}", flush=True)


def stage_report(args: argparse.Namespace) -> None:
    evals = {}
    shown = ("start", "start_clamp", *(("teacher_ft",) if args.teacher_init else ()), *args.arms)
    seeds_of = {"start": [0], "start_clamp": [0], "teacher_ft": args.seeds[:1]}
    for arm, seeds in ((a, seeds_of.get(a, args.seeds)) for a in shown):
        for s in seeds:
            f = Path(args.out) / "eval" / f"{arm}_s{s}.json"
            if f.is_file():
                ev = json.loads(f.read_text())
                if args.max_pairs:
                    ev["sets"] = {k: rows[: args.max_pairs] for k, rows in ev["sets"].items()}
                evals[(arm, s)] = ev
    sets = [f"{n}/suite" for n in ab.TEST_SETS] + list(ab.TEST_SETS)
    lines = ["# Degradation-aware fine-tuning of the shipped student: with vs without the teacher", "",
             f"Seeds {', '.join(map(str, args.seeds))}; student `{args.model}`, {args.iters} iterations from "
             f"`{_rel(args.init)}`, batch "
             f"{args.batch}, crop {args.crop}, lr {args.lr}, degradations `{args.degrade}` (severities 1-3, "
             f"{args.clean_ratio:.0%} clean); teacher `{_rel(args.teacher)}` (calibrated recipe"
             + (f"; fine-tuned from `{_rel(args.teacher_init)}` the same way, seed {args.seeds[0]}, oracle text"
                if args.teacher_init else "") + "). Suite: "
             f"`edgefuse degrade --severity {args.severity} --seed 0` of each test split, scored against the clean "
             "sources (mean over types)" + (f"; first {args.max_pairs} pairs per set" if args.max_pairs else "") + ".",
             ""]
    summary: dict = {"arms": {}, "comparisons": []}
    for metric in ab.METRICS[:2]:
        lines += [f"## {metric}", "", "| arm | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
        for arm in shown:
            seeds = seeds_of.get(arm, args.seeds)
            cells = []
            for st in sets:
                vals = [ab._score(evals[(arm, s)]["sets"][f"{st}/right"], metric, st.endswith("suite"))
                        for s in seeds if (arm, s) in evals]
                if not vals:
                    cells.append("—")
                    continue
                mean, std, _ = ab._interval(vals)
                summary["arms"].setdefault(arm, {}).setdefault(metric, {})[st] = {"mean": mean, "values": vals}
                cells.append(f"{mean:.4f}" + (f" ± {std:.4f}" if len(vals) > 1 else ""))
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Paired differences over seeds (95 % t interval)", "",
              "| comparison | set | ΔVIF | ΔQabf | supported |", "|---|---|---|---|---|"]
    for a, b, label in (("ft_distilled", "ft_plain", "fine-tuned: distilled vs plain"),
                        *((("ft_distilled_deg", "ft_plain", "fine-tuned: distilled on degraded vs plain"),
                           ("ft_distilled_deg", "start_clamp", "distilled on degraded vs clamp alone"),
                           ("ft_plain", "start_clamp", "plain fine-tune vs clamp alone"))
                          if "ft_distilled_deg" in args.arms else ()),
                        *((("ft_anchor", "ft_plain", "anchored vs plain fine-tune"),
                           ("ft_anchor", "start_clamp", "anchored fine-tune vs clamp alone"))
                          if "ft_anchor" in args.arms else ()),
                        ("ft_anchor_kd", "ft_anchor_plain", "anchored: distilled vs plain"),
                        ("ft_anchor_better", "ft_anchor_plain", "anchored: teacher-bounded distilled vs plain"),
                        ("ft_anchor_better", "start_clamp", "anchored teacher-bounded distilled vs clamp alone"),
                        ("ft_anchor_scored", "ft_anchor_plain", "anchored: score-gated distilled vs plain"),
                        ("ft_anchor_scored", "start_clamp", "anchored score-gated distilled vs clamp alone"),
                        ("ft_anchor_kd", "start_clamp", "anchored distilled vs clamp alone"),
                        ("ft_anchor_plain", "start_clamp", "anchored plain vs clamp alone"),
                        *((("teacher_ft", "ft_plain", "fine-tuned teacher vs plain student"),) if args.teacher_init
                          else ()),
                        ("ft_distilled", "start", "distilled fine-tune vs starting weights"),
                        ("ft_plain", "start", "plain fine-tune vs starting weights")):
        if a not in shown or b not in shown:
            continue
        for st in sets:
            cells, ok = [], True
            for metric in ab.METRICS[:2]:
                diffs = []
                for s in args.seeds:
                    sb = 0 if b in ("start", "start_clamp") else s
                    sa = args.seeds[0] if a == "teacher_ft" else s
                    if (a, sa) in evals and (b, sb) in evals:
                        diffs.append(ab._score(evals[(a, sa)]["sets"][f"{st}/right"], metric, st.endswith("suite"))
                                     - ab._score(evals[(b, sb)]["sets"][f"{st}/right"], metric, st.endswith("suite")))
                if len(diffs) < 2:
                    cells.append("—")
                    ok = False
                    continue
                mean, _, half = ab._interval(diffs)
                cells.append(f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]")
                ok = ok and mean - half > 0
                summary["comparisons"].append({"comparison": label, "set": st, "metric": metric, "diffs": diffs,
                                               "mean": mean, "half_width": half})
            lines.append(f"| {label} | {st} | {cells[0]} | {cells[1]} | {'yes' if ok else 'no'} |")
    for set_name in ab.TEST_SETS:
        key = f"{set_name}/suite/right"
        lines += ["", f"## Per degradation type ({set_name} suite, VIF / Qabf, seed mean)", "",
                  "| type | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
        types = sorted({r["type"] for ev in evals.values() for r in ev["sets"].get(key, [])})
        for t in types:
            cells = []
            for arm in shown:
                seeds = seeds_of.get(arm, args.seeds)
                vif, qabf = ([np.mean([r[m] for r in evals[(arm, s)]["sets"][key] if r["type"] == t])
                              for s in seeds if (arm, s) in evals] for m in ("VIF", "Qabf"))
                cells.append(f"{np.mean(vif):.3f} / {np.mean(qabf):.3f}" if vif else "—")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
    res = Path(args.results)
    res.mkdir(parents=True, exist_ok=True)
    stem = args.report_name
    (res / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (res / f"{stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    if any(k[0] in args.arms for k in evals):
        ab._figure(evals, args, res / f"{stem}.png", arms=tuple(a for a in shown if any(k[0] == a for k in evals)),
                   seeds_of=seeds_of)
    print("\n".join(lines))


def _rel(p: str | Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=("train", "eval", "report", "all"), default="all")
    p.add_argument("--seeds", default="1,2,3", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--iters", type=int, default=800)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--degrade", default="all")
    p.add_argument("--clean-ratio", type=float, default=0.5)
    p.add_argument("--init", default=str(DEFAULT_INIT))
    p.add_argument("--model", default="edge_nano", help="Student architecture (edge_nano_agc: + IR black-level "
                   "clamp; edge_nano_rx: + learned IR contrast gain).")
    p.add_argument("--teacher", default=str(DEFAULT_TEACHER))
    p.add_argument("--teacher-init", help="Fine-tune this teacher first (teacher_ft) and distil from it.")
    p.add_argument("--arms", default=",".join(ARMS), type=lambda s: tuple(a for a in s.split(",") if a),
                   help=f"Trained arms, of {', '.join(ALL_ARMS)}.")
    p.add_argument("--w-anchor", type=float, default=80.0, help="--w-anchor of the anchored arms.")
    p.add_argument("--severity", type=int, default=2)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--max-pairs", type=int, default=50, help="Pairs per set (0 = all).")
    p.add_argument("--out", default=str(ROOT / "runs" / "finetune"))
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "ablation"))
    p.add_argument("--report-name", default="finetune", help="Stem of the report files under --results.")
    args = p.parse_args()
    if set(args.arms) - set(ALL_ARMS):
        p.error(f"unknown arms {sorted(set(args.arms) - set(ALL_ARMS))}; pick from {', '.join(ALL_ARMS)}")
    if args.teacher_init:
        args.teacher = str(Path(args.out) / f"teacher_ft_s{args.seeds[0]}" / "model.safetensors")
    if args.stage in ("train", "all"):
        stage_train(args)
    if args.stage in ("eval", "all"):
        stage_eval(args)
    if args.stage in ("report", "all"):
        stage_report(args)


if __name__ == "__main__":
    main()
