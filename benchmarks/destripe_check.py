"""IR destriping of the default student, checked on IR-noise suites of the training splits.

The shipped ``edge_nano_ivf`` runs with ``ir_destripe`` on; ``benchmarks/results/weights/edge_nano_ivf_denoise``
is the same weights and options without it. This script builds the ``ir_noise`` suites (severities 1-3,
seed 5) of msrs/train and roadscene/train, scores both against the clean training pairs with
``edgefuse eval --reference``, and reports the paired difference per pair (mean and 95 % t interval),
over all pairs and per severity. The start level of the destriping comes from the clean training images
(``benchmarks/noise_levels.py``); nothing here reads a test split.

    python benchmarks/destripe_check.py          # writes benchmarks/results/destripe_train.md
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
BEFORE = ROOT / "benchmarks" / "results" / "weights" / "edge_nano_ivf_denoise.safetensors"
METRICS = ("VIF", "Qabf", "SSIM")


def _run(cmd: list[str], out: Path) -> str:
    shown = " ".join(c.replace(str(out), "OUT").replace(str(DATA), "../shared/data").replace(str(ROOT) + "/", "")
                     for c in cmd)
    print("$ " + shown, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return shown


def _interval(diff: np.ndarray) -> str:
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return f"{diff.mean():+.4f} [{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "destripe_check"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "destripe_train.md"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commands, lines = [], []
    for name, clean in SPLITS.items():
        tag = name.replace("/", "_")
        suite = out / f"{tag}_ir_noise"
        commands.append(_run(["edgefuse", "-q", "degrade", "--data", str(clean), "--out", str(suite),
                              "--type", "ir_noise", "--severity", "1,2,3", "--seed", "5"], out))
        table = out / f"{tag}.csv"
        commands.append(_run(["edgefuse", "-q", "eval", "--data", str(suite), "--reference", str(clean),
                              "-m", "edge_nano_ivf", "-m", f"before={BEFORE}", "--metrics", ",".join(METRICS),
                              "--csv", str(table)], out))
        rows = list(csv.DictReader(table.open()))
        score: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for r in rows:
            score[r["image"]][r["method"]] = {m: float(r[m]) for m in METRICS}
        severity = {r["image"]: r["severity"] for r in rows}
        groups: dict[str, list[str]] = defaultdict(list)
        for pair in sorted(score):
            groups["all"].append(pair)
        for pair in sorted(score, key=lambda p: severity[p]):
            groups[f"severity {severity[pair]}"].append(pair)
        lines += ["", f"{name}, `ir_noise`: mean of the default / without destriping; paired difference "
                  "(default minus without) with its 95 % t interval over pairs", "",
                  "| pairs | n | " + " | ".join(f"{m} default / without | Δ{m}" for m in METRICS) + " |",
                  "|---|---:|" + "---|---|" * len(METRICS)]
        for group, pairs in groups.items():
            cells = []
            for m in METRICS:
                a = np.array([score[p]["edge_nano_ivf"][m] for p in pairs])
                b = np.array([score[p]["before"][m] for p in pairs])
                cells += [f"{a.mean():.4f} / {b.mean():.4f}", _interval(a - b)]
            lines.append(f"| {group} | {len(pairs)} | " + " | ".join(cells) + " |")
    head = ["# IR destriping on IR-noise suites of the training splits", "",
            f"`python benchmarks/destripe_check.py` ({date.today().isoformat()}), which runs:", ""]
    text = "\n".join(head + [f"    {c}" for c in commands] + lines) + "\n"
    Path(args.results).write_text(text)
    print(text, end="")
    print(f"wrote {os.path.relpath(args.results, ROOT)}")


if __name__ == "__main__":
    main()
