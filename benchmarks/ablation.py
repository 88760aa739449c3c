"""The DTPF ablation on these CPUs: does the text prior steer the teacher, and does distillation transfer?

Arms (IVF, degradation-aware training with clean targets, the same iterations, crop and batch per arm):

    teacher_text            edge_teacher, the applied degradation's event as text (oracle)
    teacher_constant_text   the same teacher with one constant prompt (no prior)
    student_plain           edge_nano, fusion loss only
    student_distilled       edge_nano distilled from teacher_text (same seed), calibrated recipe
    student_distilled_dtpf  the same with DTPF's weights as coded (--recipe dtpf)
    student_distilled_prior the calibrated recipe plus the prior term (--prior-share 0.3): a training-only probe
                            regresses the teacher's (centred) text embedding from the student's global context
    student_plain_sp        edge_nano_sp (edge_nano with its own degradation prior: statistics of the pair drive
                            FiLM guides and an IR gain), fusion loss only
    student_distilled_sp    edge_nano_sp distilled from teacher_text, calibrated recipe plus the prior term, which
                            trains the student's prior to predict the teacher's text embedding
    student_distilled_sp_maps  the same plus the blend-map term (--map-share 1.0): the student's per-pixel
                            blend maps (which source it takes where) are pulled to the teacher's
    teacher_text_st, student_plain_sp_st, student_distilled_sp_maps_st
                            teacher_text, student_plain_sp and student_distilled_sp_maps with the shipped
                            default's four input stages (IR black-level clamp, destriping, IR and visible
                            denoising) in the model, teacher and students alike (``--config OUT/stages.yaml``)

Every arm is trained with each seed of ``--seeds``; runs resume from their ``last.pt`` after a stop,
and finished runs are skipped. Evaluation: ``msrs/test`` and ``roadscene/test`` (clean, sources as
reference) and the degradation suite built from those splits (``edgefuse degrade``, one severity,
seed 0), scored against the clean sources. The report gives mean ± std over seeds per arm, and for
each comparison the paired difference over seeds with its 95 % t interval.

Usage (from the repository root; logs and runs under ``--out``)::

    python benchmarks/ablation.py --stage all --seeds 1,2,3,4,5 --iters 800 --jobs 2 --max-pairs 50
    python benchmarks/ablation.py --stage report --seeds 1,2,3,4,5 --max-pairs 50   # tables, JSON, figure
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
IVF_TRAIN = [DATA / "msrs" / "train", DATA / "roadscene" / "train"]
TEST_SETS = {"msrs/test": DATA / "msrs" / "test", "roadscene/test": DATA / "roadscene" / "test"}
ARMS = ("teacher_text", "teacher_constant_text", "student_plain", "student_distilled", "student_distilled_dtpf",
        "student_distilled_prior", "student_plain_sp", "student_distilled_sp", "student_distilled_sp_maps",
        "teacher_text_st", "student_plain_sp_st", "student_distilled_sp_maps_st")
DISTILLED = ("student_distilled", "student_distilled_dtpf", "student_distilled_prior", "student_distilled_sp",
             "student_distilled_sp_maps", "student_distilled_sp_maps_st")
PLAIN = ("student_plain", "student_plain_sp", "student_plain_sp_st")
TEXT_TEACHERS = ("teacher_text", "teacher_text_st")  # the teachers with the oracle text (the distillation teachers)
OWN_PRIOR = ("student_plain_sp", "student_distilled_sp", "student_distilled_sp_maps", "student_plain_sp_st",
             "student_distilled_sp_maps_st")  # edge_nano_sp arms
PRIOR_TERM = ("student_distilled_prior", "student_distilled_sp", "student_distilled_sp_maps",
              "student_distilled_sp_maps_st")
STAGED = ("teacher_text_st", "student_plain_sp_st", "student_distilled_sp_maps_st")  # with the input stages
PRIOR_SHARE = 0.3
MAP_SHARE = 1.0
METRICS = ("VIF", "Qabf", "SSIM")
# t_{0.975, n-1} for the 95 % interval of a mean over n seeds
T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}


def train_command(arm: str, seed: int, args: argparse.Namespace) -> list[str]:
    out = Path(args.out) / f"{arm}_s{seed}"
    common = [f"--data={d}" for d in IVF_TRAIN] + [
        "--iters", str(args.iters), "--batch", str(args.batch), "--crop", str(args.crop), "--lr", "1e-3",
        "--seed", str(seed), "--val-every", str(args.iters), "--val-pairs", "4", "--ckpt-every", "100",
        "--threads", "1", "--degrade", "all", "--out", str(out)]
    if arm in STAGED:
        common = ["--config", str(stages_config(args)), *common]
    if arm.startswith("teacher"):
        text = "oracle" if arm in TEXT_TEACHERS else "constant"
        return ["edgefuse", "train", "--mode", "teacher", "--model", "edge_teacher", "--teacher-text", text, *common]
    model = "edge_nano_sp" if arm in OWN_PRIOR else "edge_nano"
    if arm in PLAIN:
        return ["edgefuse", "train", "--mode", "student", "--model", model, *common]
    teacher = Path(args.out) / f"{teacher_of(arm)}_s{seed}" / "model.safetensors"
    recipe = "dtpf" if arm.endswith("dtpf") else "calibrated"
    prior = ["--prior-share", str(PRIOR_SHARE)] if arm in PRIOR_TERM else []
    maps = ["--map-share", str(MAP_SHARE)] if "_maps" in arm else []
    return ["edgefuse", "distill", "--teacher", str(teacher), "--model", model, "--recipe", recipe, *prior, *maps,
            "--grad-share-every", "25", *common]


def teacher_of(arm: str) -> str:
    """The teacher arm a distilled arm learns from (same seed)."""
    return "teacher_text_st" if arm in STAGED else "teacher_text"


def stages_config(args: argparse.Namespace) -> Path:
    """A training config with the shipped default's input stages as ``model_config`` (written once under --out)."""
    import yaml

    from edgefuse.fusion import shipped_models
    from edgefuse.models.checkpoint import read_card

    path = Path(args.out) / "stages.yaml"
    if not path.is_file():
        stages = read_card(shipped_models()["edge_nano_ivf"])["config"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"model_config": stages}, default_flow_style=None))
    return path


def _done(arm: str, seed: int, args: argparse.Namespace) -> bool:
    card = Path(args.out) / f"{arm}_s{seed}" / "model.json"
    if not card.is_file():
        return False
    return json.loads(card.read_text())["training"]["iterations"] >= args.iters


def _run(cmd: list[str], log: Path) -> tuple[int, float]:
    start = time.time()
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    return rc, time.time() - start


def stage_train(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    teachers = {teacher_of(a) for a in DISTILLED if a in args.arms}  # the distilled arms learn from these
    first = [(a, s) for s in args.seeds for a in ("teacher_text", "teacher_constant_text", "teacher_text_st", *PLAIN)
             if a in args.arms or a in teachers]
    second = [(a, s) for s in args.seeds for a in DISTILLED if a in args.arms]
    for wave in (first, second):
        todo = [(a, s) for a, s in wave if not _done(a, s, args)]
        with cf.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(_run, train_command(a, s, args), out / f"{a}_s{s}.out"): (a, s) for a, s in todo}
            for fut in cf.as_completed(futures):
                (a, s), (rc, sec) = futures[fut], fut.result()
                print(f"{a} seed {s}: exit {rc} in {sec:.0f} s", flush=True)
                if rc != 0:
                    sys.exit(f"training {a} seed {s} failed; see {out / f'{a}_s{s}.out'}")


# ----------------------------------------------------------------------------- evaluation
def build_suites(args: argparse.Namespace) -> dict[str, Path]:
    suites = {}
    for name, clean in TEST_SETS.items():
        dest = Path(args.out) / "suite" / name.replace("/", "_")
        if not (dest / "manifest.json").is_file():
            subprocess.check_call(["edgefuse", "degrade", "--data", str(clean), "--out", str(dest),
                                   "--severity", str(args.severity), "--seed", "0"])
        suites[name] = dest
    return suites


def _load(arm: str, seed: int, args: argparse.Namespace):  # noqa: ANN202
    from edgefuse.models.checkpoint import load_checkpoint

    model, card = load_checkpoint(Path(args.out) / f"{arm}_s{seed}" / "model.safetensors")
    return model.eval(), card


def _fuse(model, card, vis: np.ndarray, ir: np.ndarray, events: tuple[str, ...] | None):  # noqa: ANN001, ANN202
    import torch

    from edgefuse.data.images import float_from_u8, u8_from_float

    v = torch.from_numpy(float_from_u8(vis).transpose(2, 0, 1).copy())[None]
    i = torch.from_numpy(float_from_u8(ir).copy())[None, None]
    with torch.inference_mode():
        if model.text_dim:
            text = _prior(card)(vis, ir, events)
            out = model(v, i, text)
        else:
            out = model(v, i)
    return u8_from_float(out[0].clamp(0, 1).numpy().transpose(1, 2, 0))


_PRIORS: dict[str, object] = {}


def _prior(card: dict):  # noqa: ANN202
    from edgefuse.text.conditioning import TextPrior

    key = card["sha256"]
    if key not in _PRIORS:
        _PRIORS[key] = TextPrior(card)
    prior = _PRIORS[key]

    def call(vis, ir, events):  # noqa: ANN001, ANN202
        prior.events = events
        return prior(vis, ir)

    return call


# the text each teacher arm is scored with, per text condition: "right" = the suite's true event
# (clean sets: the rule annotator), "wrong" = another type's event, "none" = the constant prompt
WRONG = {"low_light": "over_exposure", "over_exposure": "low_light", "ir_low_contrast": "ir_noise",
         "ir_noise": "ir_low_contrast", "motion_blur": "ir_noise"}


def _events_for(arm: str, condition: str, entry: dict | None) -> tuple[str, ...] | None:
    from edgefuse.text.events import GENERIC_EVENT

    if arm == "teacher_constant_text" or condition == "none":
        return (GENERIC_EVENT,)
    if entry is None:
        return None  # clean data: the rule annotator, as at deployment
    if condition == "right":
        return (entry["event"],)
    return (WRONG[entry["type"]],)


def evaluate_arm(arm: str, seed: int, args: argparse.Namespace, suites: dict[str, Path]) -> dict:
    from edgefuse.data.pairs import find_pairs, load_pair
    from edgefuse.data.suite import reference_pairs
    from edgefuse.metrics.grey import grey_from_rgb
    from edgefuse.metrics.registry import evaluate_grey

    dest = Path(args.out) / "eval" / f"{arm}_s{seed}.json"
    if dest.is_file():
        return json.loads(dest.read_text())
    model, card = _load(arm, seed, args)
    conditions = ("right", "wrong", "none") if arm in TEXT_TEACHERS else ("right",)
    result: dict = {"arm": arm, "seed": seed, "sets": {}}
    for set_name, clean in TEST_SETS.items():
        for suite in (False, True):
            root = suites[set_name] if suite else clean
            mapping, entries = reference_pairs(root, clean) if suite else ({}, {})
            for cond in conditions:
                if not suite and cond != "right":
                    continue
                rows, outputs = [], {}
                for pair in find_pairs(root)[: args.max_pairs or None]:
                    loaded = load_pair(pair)
                    ref = load_pair(mapping[pair.name]) if suite else loaded
                    entry = entries.get(pair.name)
                    fused = _fuse(model, card, loaded.vis, loaded.ir, _events_for(arm, cond, entry))
                    scores = evaluate_grey(grey_from_rgb(fused), ref.ir.astype(np.float64),
                                           grey_from_rgb(ref.vis), list(METRICS))
                    rows.append({"image": pair.name, "type": entry["type"] if entry else "clean", **scores})
                    if arm in TEXT_TEACHERS and suite:
                        outputs[pair.name] = fused.astype(np.int16)
                key = f"{set_name}{'/suite' if suite else ''}/{cond}"
                result["sets"][key] = rows
                if arm in TEXT_TEACHERS and suite:
                    result.setdefault("_outputs", {})[key] = outputs
    if "_outputs" in result:  # how much the text moves the teacher's output (grey levels, mean abs diff)
        outs = result.pop("_outputs")
        result["text_sensitivity"] = {}
        for set_name in TEST_SETS:
            right = outs[f"{set_name}/suite/right"]
            for cond in ("wrong", "none"):
                other = outs[f"{set_name}/suite/{cond}"]
                diffs = [float(np.abs(right[k] - other[k]).mean()) for k in right]
                result["text_sensitivity"][f"{set_name}/{cond}"] = float(np.mean(diffs))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result))
    return result


def stage_eval(args: argparse.Namespace) -> None:
    suites = build_suites(args)
    jobs = [(a, s) for a in ARMS if a in args.arms for s in args.seeds]
    with cf.ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(evaluate_arm, a, s, args, suites): (a, s) for a, s in jobs}
        for fut in cf.as_completed(futures):
            fut.result()
            print(f"evaluated {futures[fut][0]} seed {futures[fut][1]}", flush=True)


# ----------------------------------------------------------------------------- report
def _score(rows: list[dict], metric: str, by_type: bool) -> float:
    if not by_type:
        return float(np.mean([r[metric] for r in rows]))
    types = sorted({r["type"] for r in rows})
    return float(np.mean([np.mean([r[metric] for r in rows if r["type"] == t]) for t in types]))


def _interval(values: list[float]) -> tuple[float, float, float]:
    """Mean, and the 95 % t interval half-width, of per-seed values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), math.nan, math.nan
    half = T975.get(len(v), 1.96) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(v.std(ddof=1)), float(half)


COMPARISONS = (
    ("teacher_text", "teacher_constant_text", "right", "right", "teacher: text vs constant text"),
    ("teacher_text", "teacher_text", "right", "wrong", "teacher: right vs wrong text"),
    ("student_distilled", "student_plain", "right", "right", "distilled (calibrated) vs plain student"),
    ("student_distilled_dtpf", "student_plain", "right", "right", "distilled (DTPF recipe) vs plain student"),
    ("student_distilled", "student_distilled_dtpf", "right", "right", "calibrated vs DTPF recipe"),
    ("student_distilled_prior", "student_plain", "right", "right", "distilled with the prior term vs plain student"),
    ("student_distilled_prior", "student_distilled", "right", "right", "prior term vs calibrated alone"),
    ("student_distilled_sp", "student_plain_sp", "right", "right",
     "own prior: distilled (calibrated + prior term) vs plain student"),
    ("student_distilled_sp_maps", "student_plain_sp", "right", "right",
     "own prior: distilled with the blend-map term vs plain student"),
    ("student_distilled_sp_maps", "student_distilled_sp", "right", "right", "blend-map term vs without"),
    ("student_plain_sp", "student_plain", "right", "right", "own prior vs none, plain students"),
    ("student_distilled_sp", "student_plain", "right", "right", "own prior distilled vs plain edge_nano"),
    ("teacher_text", "student_plain", "right", "right", "teacher vs plain student"),
    ("teacher_text", "student_plain_sp", "right", "right", "teacher vs plain own-prior student"),
    ("teacher_text_st", "teacher_text_st", "right", "wrong", "teacher with the stages: right vs wrong text"),
    ("student_distilled_sp_maps_st", "student_plain_sp_st", "right", "right",
     "with the stages: distilled (map arm) vs plain own-prior student"),
    ("teacher_text_st", "student_plain_sp_st", "right", "right", "with the stages: teacher vs plain student"),
    ("student_plain_sp_st", "student_plain_sp", "right", "right", "stages vs none, plain own-prior students"),
)


def stage_report(args: argparse.Namespace) -> None:
    files = {(a, s): Path(args.out) / "eval" / f"{a}_s{s}.json" for a in ARMS if a in args.arms for s in args.seeds}
    evals = {k: json.loads(f.read_text()) for k, f in files.items() if f.is_file()}
    missing = [f"{a} seed {s}" for (a, s) in files if (a, s) not in evals]
    if missing:
        print(f"not evaluated (left out of the report): {', '.join(missing)}")
    if args.max_pairs:  # the same first pairs of every set for every arm (evaluations may hold more)
        for ev in evals.values():
            ev["sets"] = {k: rows[: args.max_pairs] for k, rows in ev["sets"].items()}
    sets = [f"{n}/suite" for n in TEST_SETS] + list(TEST_SETS)
    lines = ["# Ablation: text prior and distillation (edge models, CPU)", "",
             f"Seeds {', '.join(map(str, args.seeds))}; {args.iters} iterations, batch {args.batch}, crop {args.crop}, "
             "degradation-aware training (all five types, severities 1-3, 25 % clean) for every arm. "
             f"Suite: `edgefuse degrade --severity {args.severity} --seed 0` of each test split, scored against the "
             "clean sources (mean over the five types)"
             + (f"; the first {args.max_pairs} pairs of each set (suite pairs are ordered by source image, so every "
                "type has the same images)" if args.max_pairs else "") + ". Values: mean ± std over seeds.", "",
             "Command: `python benchmarks/ablation.py --stage all --seeds " + ",".join(map(str, args.seeds))
             + f" --iters {args.iters} --max-pairs {args.max_pairs} --arms " + ",".join(a for a in ARMS if a in args.arms)
             + (f" --name {args.name}" if args.name != "ablation" else "") + "`.", ""]
    doc: dict = {"seeds": args.seeds, "iters": args.iters, "arms": {}, "comparisons": []}
    for metric in ("VIF", "Qabf"):
        lines += [f"## {metric}", "", "| arm | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|"]
        for arm in ARMS:
            cells = []
            seeds = [s for s in args.seeds if (arm, s) in evals]
            if not seeds:
                continue
            for st in sets:
                vals = [_score(evals[(arm, s)]["sets"][f"{st}/right"], metric, "suite" in st) for s in seeds]
                m, sd, _ = _interval(vals)
                cells.append(f"{m:.4f} ± {sd:.4f}")
                doc["arms"].setdefault(arm, {}).setdefault(metric, {})[st] = {"mean": m, "std": sd, "seeds": vals}
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Paired differences over seeds (95 % t interval)", "",
              "| comparison | set | ΔVIF | ΔQabf | supported |", "|---|---|---|---|---|"]
    for a, b, ca, cb, label in COMPARISONS:
        for st in sets:
            if (ca != "right" or cb != "right") and "suite" not in st:
                continue
            cells, ok = [], True
            seeds = [s for s in args.seeds if (a, s) in evals and (b, s) in evals]
            if len(seeds) < 2:
                continue
            entry = {"comparison": label, "set": st, "seeds": seeds}
            for metric in ("VIF", "Qabf"):
                d = [_score(evals[(a, s)]["sets"][f"{st}/{ca}"], metric, "suite" in st)
                     - _score(evals[(b, s)]["sets"][f"{st}/{cb}"], metric, "suite" in st) for s in seeds]
                m, _, half = _interval(d)
                cells.append(f"{m:+.4f} [{m - half:+.4f}, {m + half:+.4f}]")
                ok = ok and m - half > 0
                entry[metric] = {"mean": m, "low": m - half, "high": m + half, "seeds": d}
            entry["better_beyond_interval"] = ok
            doc["comparisons"].append(entry)
            lines.append(f"| {label} | {st} | {cells[0]} | {cells[1]} | {'yes' if ok else 'no'} |")
    shares = [a for a in doc["arms"] if not a.startswith("teacher") and teacher_of(a) in doc["arms"]]
    if shares:  # DTPF's claim: >= 90 % of the teacher's quality
        lines += ["", "## Share of its teacher's score (seed means, VIF / Qabf; the _st arms: teacher_text_st)", "",
                  "| arm | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|"]
        for arm in shares:
            t = doc["arms"][teacher_of(arm)]
            cells = [" / ".join(f"{100 * doc['arms'][arm][m][st]['mean'] / t[m][st]['mean']:.0f} %"
                                for m in ("VIF", "Qabf")) for st in sets]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "## Teacher text sensitivity (mean absolute difference of the fused output, grey levels)", "",
              "| set | right vs wrong text | right vs constant text |", "|---|---|---|"]
    tseeds = [s for s in args.seeds if ("teacher_text", s) in evals]
    for name in TEST_SETS if len(tseeds) > 1 else ():
        w = [evals[("teacher_text", s)]["text_sensitivity"][f"{name}/wrong"] for s in tseeds]
        n = [evals[("teacher_text", s)]["text_sensitivity"][f"{name}/none"] for s in tseeds]
        lines.append(f"| {name} suite | {np.mean(w):.2f} ± {np.std(w, ddof=1):.2f} | {np.mean(n):.2f} ± {np.std(n, ddof=1):.2f} |")
        doc.setdefault("text_sensitivity", {})[name] = {"wrong": w, "constant": n}
    lines += ["", "## Gradient shares of the distillation terms (mean over the logged iterations, seed mean)", "",
              "| recipe | fusion | feat | res | prior | maps | w_feat | w_res | w_prior | w_maps |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for arm in (a for a in DISTILLED if a in args.arms):
        shares = {k: [] for k in ("fusion", "feat", "res", "prior", "maps")}
        ws = []
        for s in args.seeds:
            run = Path(args.out) / f"{arm}_s{s}"
            if not (run / "model.json").is_file():
                continue
            import csv

            with open(run / "log.csv") as f:
                rows = [r for r in csv.DictReader(f) if r.get("gshare_fusion")]
            for k in shares:
                shares[k].append(float(np.mean([float(r.get(f"gshare_{k}") or 0.0) for r in rows])))
            t = json.loads((run / "model.json").read_text())["training"]
            ws.append((t["w_feat"], t["w_res"], t.get("w_prior", 0.0), t.get("w_maps", 0.0)))
        if not ws:
            continue
        lines.append(f"| {arm} | " + " | ".join(f"{np.mean(v):.4f}" for v in shares.values())
                     + "".join(f" | {np.mean([w[i] for w in ws]):.4g}" for i in range(4)) + " |")
        doc.setdefault("gradient_shares", {})[arm] = {k: float(np.mean(v)) for k, v in shares.items()}
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    (out / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    _figure(evals, args, out / f"{args.name}.png", tuple(a for a in ARMS if a in args.arms))
    print("\n".join(lines))


COLOURS = ((200, 120, 40), (120, 170, 230), (90, 90, 90), (60, 170, 60), (40, 60, 200),
           (170, 80, 170), (30, 200, 220), (140, 140, 0), (0, 90, 230), (230, 60, 60), (150, 200, 90),
           (60, 40, 140))  # BGR per arm


def _figure(evals: dict, args: argparse.Namespace, path: Path, arms: tuple[str, ...] = ARMS,
            seeds_of: dict[str, list[int]] | None = None) -> None:
    """Bars of VIF and Qabf per degradation type per arm (seed mean, whisker = seed std), drawn with OpenCV."""
    import cv2

    seeds_of = seeds_of or {}
    first = next(k for k in evals if k[0] in arms)
    types = sorted({r["type"] for name in TEST_SETS for r in evals[first]["sets"][f"{name}/suite/right"]})
    panels = []
    for metric in ("VIF", "Qabf"):
        vals = {}
        for arm in arms:
            seeds = [s for s in seeds_of.get(arm, args.seeds) if (arm, s) in evals]
            if not seeds:
                continue
            for t in types:
                per_seed = [np.mean([r[metric] for name in TEST_SETS
                                     for r in evals[(arm, s)]["sets"][f"{name}/suite/right"] if r["type"] == t])
                            for s in seeds]
                vals[(arm, t)] = (float(np.mean(per_seed)), float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0)
        top = max(m + e for m, e in vals.values()) * 1.1
        h, w, left, bottom = 360, 720, 50, 60
        img = np.full((h, w, 3), 255, np.uint8)
        group = (w - left - 10) / len(types)
        bar = group * 0.8 / len(arms)
        for gi, t in enumerate(types):
            for ai, arm in enumerate(arms):
                if (arm, t) not in vals:
                    continue
                m, e = vals[(arm, t)]
                x0 = int(left + gi * group + group * 0.1 + ai * bar)
                y = lambda v: int(h - bottom - (h - bottom - 30) * v / top)  # noqa: E731
                cv2.rectangle(img, (x0, y(m)), (int(x0 + bar) - 1, h - bottom), COLOURS[ARMS.index(arm)], -1)
                xm = int(x0 + bar / 2)
                cv2.line(img, (xm, y(m - e)), (xm, y(m + e)), (0, 0, 0), 1)
            cv2.putText(img, t, (int(left + gi * group + 4), h - bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                        (0, 0, 0), 1, cv2.LINE_AA)
        for k in range(5):
            v = top * k / 5
            yy = int(h - bottom - (h - bottom - 30) * v / top)
            cv2.line(img, (left - 4, yy), (w - 10, yy), (225, 225, 225), 1)
            cv2.putText(img, f"{v:.2f}", (4, yy + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, f"{metric} vs the clean sources (msrs + roadscene test suites; mean of seeds, bar = std)",
                    (left, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        per_row = 3  # legend: three arms per row (the longest name is 23 characters)
        for ai, arm in enumerate(arms):
            x, yb = left + (ai % per_row) * (w - left) // per_row, h - 26 + 14 * (ai // per_row)
            cv2.rectangle(img, (x, yb - 10), (x + 12, yb), COLOURS[ARMS.index(arm)], -1)
            cv2.putText(img, arm, (x + 16, yb - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.34, (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(img)
    cv2.imwrite(str(path), np.concatenate(panels, axis=0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=("train", "eval", "report", "all"), default="all")
    p.add_argument("--seeds", default="1,2,3", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--iters", type=int, default=800)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--severity", type=int, default=2)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--arms", default=",".join(ARMS), type=lambda s: tuple(s.split(",")),
                   help="Arms to train and evaluate (comma-separated; default all).")
    p.add_argument("--max-pairs", type=int, default=0, help="Pairs per set (0 = all; for a quick check).")
    p.add_argument("--out", default=str(ROOT / "runs" / "ablation"))
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "ablation"))
    p.add_argument("--name", default="ablation",
                   help="Report file names under --results: NAME.md, NAME.json, NAME.png (default ablation).")
    args = p.parse_args()
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown:
        p.error(f"unknown arm {', '.join(unknown)}; the arms are {', '.join(ARMS)}")
    if args.stage in ("train", "all"):
        stage_train(args)
    if args.stage in ("eval", "all"):
        stage_eval(args)
    if args.stage in ("report", "all"):
        stage_report(args)


if __name__ == "__main__":
    main()
