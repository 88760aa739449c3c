"""An input stage of the default student, checked on degradation suites of the training splits.

The shipped ``edge_nano_ivf`` runs with parameter-free input stages (``edgefuse/models/edge.py``). For a
stage, this script builds the suite of the degradation it is for (severities 1-3, seed 5) from msrs/train
and roadscene/train (for the over-exposure stage also from the m3svd/stream frames, another camera),
scores the default and the same weights without the stage (a card kept in ``benchmarks/results/weights``)
against the clean pairs with ``edgefuse eval --reference``, and reports the paired difference per pair
(mean and 95 % t interval), over all pairs and per severity. It also scores both on the clean pairs, where
a stage that starts above every clean training image changes nothing. The start levels come from the
clean training images (``benchmarks/noise_levels.py``); nothing here reads a test split.

    python benchmarks/stage_check.py --stage destripe      # writes benchmarks/results/destripe_train.md
    python benchmarks/stage_check.py --stage vis_denoise   # writes benchmarks/results/vis_denoise_train.md
    python benchmarks/stage_check.py --stage vis_exposure  # writes benchmarks/results/vis_exposure_train.md
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLITS = {"msrs/train": DATA / "msrs" / "train", "roadscene/train": DATA / "roadscene" / "train"}
WEIGHTS = ROOT / "benchmarks" / "results" / "weights"
METRICS = ("VIF", "Qabf", "SSIM")
# stage -> (degradation it is for, card of the default without it, what that card lacks, results page,
#           another card compared with the default on the same suites, or None)
STAGES = {
    "destripe": ("ir_noise", "edge_nano_ivf_denoise", "destriping", "destripe_train.md", None),
    "vis_denoise": ("low_light", "edge_nano_ivf_destripe", "visible denoising", "vis_denoise_train.md",
                    ("from_p95", "edge_nano_ivf_vis_denoise",
                     "visible denoising from the 95th percentile of the clean training images")),
    "vis_exposure": ("over_exposure", "edge_nano_ivf_visden", "the over-exposure stage", "vis_exposure_train.md",
                     None),
}
# stages that are not in the default: the card with the stage, scored under the label `edge_nano_ivf` of the tables
# ("default" there means this card; `without` is then the same weights as the shipped default)
WITH_CARD = {"vis_exposure": "edge_nano_ivf_exposure"}
# stages whose page also compares the default with the classical baselines on the same pairs
WITH_BASELINES = {"vis_exposure"}
# stages also checked on another camera: the m3svd/stream frames (train-usable, never a test split), whose
# clean frames and over-exposure suite caught a frame-level over-exposure trigger that the two training
# splits had passed
MORE_SPLITS = {"vis_exposure": {"m3svd/stream": DATA / "m3svd" / "stream"}}
BASELINES = {"max": "pixel-wise maximum of IR and visible luminance",
             "laplacian": "Laplacian pyramid, max-magnitude details, averaged base"}


def _run(cmd: list[str], out: Path) -> str:
    shown = " ".join(c.replace(str(out), "OUT").replace(str(DATA), "../shared/data").replace(str(ROOT) + "/", "")
                     for c in cmd)
    print("$ " + shown, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return shown


def _interval(diff: np.ndarray) -> str:
    if len(diff) < 2 or not diff.any():
        return f"{diff.mean():+.4f}"
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return f"{diff.mean():+.4f} [{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}]"


def _scores(table: Path) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, str]]:
    score: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    severity = {}
    for r in csv.DictReader(table.open()):
        score[r["image"]][r["method"]] = {m: float(r[m]) for m in METRICS}
        severity[r["image"]] = r.get("severity") or "clean"
    return score, severity


def _table(score, groups: dict[str, list[str]], other: str, title: str) -> list[str]:
    lines = ["", title, "",
             "| pairs | n | " + " | ".join(f"{m} default / {other} | Δ{m}" for m in METRICS) + " |",
             "|---|---:|" + "---|---|" * len(METRICS)]
    for group, pairs in groups.items():
        cells = []
        for m in METRICS:
            a = np.array([score[p]["edge_nano_ivf"][m] for p in pairs])
            b = np.array([score[p][other][m] for p in pairs])
            cells += [f"{a.mean():.4f} / {b.mean():.4f}", _interval(a - b)]
        lines.append(f"| {group} | {len(pairs)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=sorted(STAGES), default="destripe")
    ap.add_argument("--out", default=None, help="work folder (default runs/stage_check/STAGE)")
    ap.add_argument("--results", default=None, help="results page (default benchmarks/results/<stage page>)")
    args = ap.parse_args()
    kind, before, lacks, page, extra = STAGES[args.stage]
    out = Path(args.out or ROOT / "runs" / "stage_check" / args.stage)
    results = Path(args.results or ROOT / "benchmarks" / "results" / page)
    out.mkdir(parents=True, exist_ok=True)
    model = f"edge_nano_ivf={WEIGHTS / WITH_CARD[args.stage]}.safetensors" if args.stage in WITH_CARD else "edge_nano_ivf"
    entries = ["-m", model, "-m", f"without={WEIGHTS / before}.safetensors"]
    others = ["without"]
    if extra:
        entries += ["-m", f"{extra[0]}={WEIGHTS / extra[1]}.safetensors"]
        others.append(extra[0])
    if args.stage in WITH_BASELINES:
        entries += ["-m", "max", "-m", "laplacian"]
        others += ["max", "laplacian"]
    commands, lines = [], []
    splits = {**SPLITS, **MORE_SPLITS.get(args.stage, {})}
    for name, clean in splits.items():
        tag = name.replace("/", "_")
        suite = out / f"{tag}_{kind}"
        commands.append(_run(["edgefuse", "-q", "degrade", "--data", str(clean), "--out", str(suite),
                              "--type", kind, "--severity", "1,2,3", "--seed", "5"], out))
        for data, label, ref in ((suite, kind, ["--reference", str(clean)]), (clean, "clean pairs", [])):
            table = out / f"{tag}_{'suite' if ref else 'clean'}.csv"
            commands.append(_run(["edgefuse", "-q", "eval", "--data", str(data), *ref, *entries,
                                  "--metrics", ",".join(METRICS), "--csv", str(table)], out))
            score, severity = _scores(table)
            groups: dict[str, list[str]] = defaultdict(list)
            groups["all"] = sorted(score)
            if ref:
                for pair in sorted(score, key=lambda p: severity[p]):
                    groups[f"severity {severity[pair]}"].append(pair)
            for other in others:
                what = (f"without {lacks}" if other == "without" else BASELINES.get(other)
                        or extra[2])  # type: ignore[index]
                lines += _table(score, groups, other,
                                f"{name}, {label}: mean of the default / `{other}` ({what}); paired difference "
                                "(default minus it) with its 95 % t interval over pairs")
    where = "the training splits" + (" and " + ", ".join(MORE_SPLITS[args.stage]) if args.stage in MORE_SPLITS else "")
    head = [f"# {lacks[0].upper() + lacks[1:]} on {kind} suites of {where}", "",
            f"`python benchmarks/stage_check.py --stage {args.stage}` ({date.today().isoformat()}), which runs:", ""]
    if args.stage in WITH_CARD:
        head[2:2] = [f"The stage is opt-in: \"default\" and `edge_nano_ivf` below are "
                       f"`benchmarks/results/weights/{WITH_CARD[args.stage]}`, the shipped default's weights and stages "
                       f"plus this one; `without` has the shipped default's stages.", ""]
    text = "\n".join(head + [f"    {c}" for c in commands] + lines) + "\n"
    results.write_text(text)
    print(text, end="")
    print(f"wrote {os.path.relpath(results, ROOT)}")


if __name__ == "__main__":
    main()
