"""Choose the denoising factor of the edge students on degradation suites built from the training splits.

``EdgeFuseNet`` subtracts ``k`` times the estimated noise variance from the local energy of the detail band
(``noise_factor``, see ``edgefuse/models/edge.py``). This script builds severity-2 suites of the noise-bearing
types (``ir_noise``, ``low_light``) from msrs/train and roadscene/train, writes a card per factor for the
shipped weights with IR and visible denoising on, and scores each against the clean training pairs with
``edgefuse eval --reference``, next to pixel-max. The factor with the best mean of VIF + Qabf over both
suites is the default. Test splits are not used.

    python benchmarks/noise_factor.py            # writes benchmarks/results/noise_factor.md
    python benchmarks/noise_factor.py --factors 1,2,4 --out runs/noise_factor
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLITS = {"msrs/train": DATA / "msrs" / "train", "roadscene/train": DATA / "roadscene" / "train"}
SHIPPED = ROOT / "edgefuse" / "assets" / "models" / "edge_nano_ivf"


def _run(cmd: list[str], out: Path) -> str:
    shown = " ".join(c.replace(str(out), "OUT").replace(str(DATA), "../shared/data") for c in cmd)
    print("$ " + shown, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return shown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="1,2,4")
    ap.add_argument("--out", default=str(ROOT / "runs" / "noise_factor"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "noise_factor.md"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    factors = [float(f) for f in args.factors.split(",")]
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    methods = []
    for k in factors:
        dest = out / f"k{k:g}.safetensors"
        shutil.copyfile(SHIPPED.with_suffix(".safetensors"), dest)
        c = {**card, "config": {**card["config"], "ir_denoise": True, "vis_denoise": True, "noise_factor": k}}
        dest.with_suffix(".json").write_text(json.dumps(c, indent=2) + "\n")
        methods += ["-m", f"k{k:g}={dest}"]
    commands, scores = [], {}
    for name, clean in SPLITS.items():
        tag = name.replace("/", "_")
        suite = out / f"{tag}_suite"
        commands.append(_run(["edgefuse", "-q", "degrade", "--data", str(clean), "--out", str(suite),
                              "--type", "ir_noise,low_light", "--severity", "2", "--seed", "5"], out))
        result = out / f"{tag}.json"
        commands.append(_run(["edgefuse", "-q", "eval", "--data", str(suite), "--reference", str(clean), *methods,
                              "-m", "max", "--metrics", "VIF,Qabf", "--json", str(result)], out))
        scores[name] = json.loads(result.read_text())
    labels = [f"k{k:g}" for k in factors] + ["max"]
    lines = ["# Denoising factor, chosen on suites of the training splits", "",
             f"`python benchmarks/noise_factor.py --factors {args.factors}` ({date.today().isoformat()}, "
             "shipped weights with `ir_denoise` and `vis_denoise` on; `kN` = `noise_factor` N), which runs:", ""]
    lines += [f"    {c}" for c in commands]
    lines += ["", "VIF / Qabf against the clean training pairs:", "",
              "| set | type | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    total = dict.fromkeys(labels, 0.0)
    def row(name: str, typ: str, per: dict) -> str:
        return f"| {name} | {typ} | " + " | ".join(f"{per[m]['VIF']:.4f} / {per[m]['Qabf']:.4f}" for m in labels) + " |"

    for name, doc in scores.items():
        for typ, per in sorted(doc["per_type"].items()):
            lines.append(row(name, typ, per))
        mean = doc["mean"]
        lines.append(row(name, "mean", mean))
        for m in labels:
            total[m] += (mean[m]["VIF"] + mean[m]["Qabf"]) / len(scores)
    best = max(labels[:-1], key=lambda m: total[m])
    lines += ["", "Mean of VIF + Qabf over both suites: " + ", ".join(f"{m} {total[m]:.4f}" for m in labels)
              + f". Best factor: **{best}**.", ""]
    Path(args.results).write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {os.path.relpath(args.results, ROOT)}")


if __name__ == "__main__":
    main()
