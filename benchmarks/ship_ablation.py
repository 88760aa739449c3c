"""Copy one seed of each ablation arm to benchmarks/results/weights/ (and, with --default, a student into the
package as ``edge_nano_ivf``), adding the measured numbers of benchmarks/ablation.py to each card.

Usage (after ``python benchmarks/ablation.py --stage all``)::

    python benchmarks/ship_ablation.py --runs runs/ablation --seed 1 --default student_distilled
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from edgefuse.models.checkpoint import card_path, file_sha256, read_card

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import ARMS  # noqa: E402  (the arms and their order are the ablation script's)

ROOT = Path(__file__).resolve().parents[1]
FIRST_WAVE = ARMS[:6]  # the arms of ablation.md; the own-prior arms are reported in ablation_sp.md


def portable(value, runs: Path):  # noqa: ANN001, ANN201
    """``value`` (a card entry) with this machine's run folder and data root written as the README's paths."""
    if isinstance(value, str):
        return (value.replace(str(runs.resolve()), "runs/ablation")
                .replace(str((ROOT.parent / "shared").resolve()), "../shared"))
    if isinstance(value, list):
        return [portable(v, runs) for v in value]
    if isinstance(value, dict):
        return {k: portable(v, runs) for k, v in value.items()}
    return value


def _means(rows: list[dict], by_type: bool) -> dict:
    metrics = [k for k in rows[0] if k not in ("image", "type")]
    if not by_type:
        return {m: round(float(np.mean([r[m] for r in rows])), 4) for m in metrics}
    types = sorted({r["type"] for r in rows})
    out = {t: {m: round(float(np.mean([r[m] for r in rows if r["type"] == t])), 4) for m in metrics} for t in types}
    out["mean_over_types"] = {m: round(float(np.mean([out[t][m] for t in types])), 4) for m in metrics}
    return out


def measured(runs: Path, arm: str, seed: int) -> dict:
    doc = json.loads((runs / "eval" / f"{arm}_s{seed}.json").read_text())
    sets = doc["sets"]
    out = {"test": {}, "suite": {}, "command": "python benchmarks/ablation.py --stage eval"}
    for key, rows in sets.items():
        name, cond = key.rsplit("/", 1)
        if cond != "right":
            continue
        if name.endswith("/suite"):
            out["suite"][name[: -len("/suite")]] = _means(rows, True)
        else:
            out["test"][name] = _means(rows, False)
    if "text_sensitivity" in doc:
        out["text_sensitivity_grey_levels"] = doc["text_sensitivity"]
    return out


def copy(src: Path, dest: Path, extra: dict, runs: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    card = read_card(src)
    card["training"] = portable(card.get("training", {}), runs)
    card.setdefault("metrics", {}).update(extra)
    card["sha256"] = file_sha256(dest)
    card_path(dest).write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {dest} and {card_path(dest)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=str(ROOT / "runs" / "ablation"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--default", choices=ARMS[2:], help="Student arm to ship as the package's edge_nano_ivf.")
    p.add_argument("--ablation", default=str(ROOT / "benchmarks" / "results" / "ablation" / "ablation.json"),
                   help="The report JSON of benchmarks/ablation.py whose seed means go on the cards.")
    p.add_argument("--arms", default=",".join(FIRST_WAVE), type=lambda s: tuple(s.split(",")),
                   help="Arms to copy (comma-separated; default the arms of ablation.md).")
    args = p.parse_args()
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown:
        p.error(f"unknown arm {', '.join(unknown)}; the arms are {', '.join(ARMS)}")
    runs = Path(args.runs)
    summary = json.loads(Path(args.ablation).read_text()) if Path(args.ablation).is_file() else {}
    report = Path(args.ablation).resolve().with_suffix(".md")
    report = report.relative_to(ROOT) if report.is_relative_to(ROOT) else report
    for arm in args.arms:
        src = runs / f"{arm}_s{args.seed}" / "model.safetensors"
        extra = {**measured(runs, arm, args.seed), "ablation": {
            "results": str(report), "seed_shipped": args.seed,
            "arm": arm, "over_seeds": summary.get("arms", {}).get(arm, {})}}
        copy(src, ROOT / "benchmarks" / "results" / "weights" / f"{arm}.safetensors", extra, runs)
        if arm == args.default:
            copy(src, ROOT / "edgefuse" / "assets" / "models" / "edge_nano_ivf.safetensors", extra, runs)


if __name__ == "__main__":
    main()
