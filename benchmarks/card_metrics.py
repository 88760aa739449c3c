"""Measure a shipped model on the clean test splits and their degradation suites; write the numbers into its card.

The card's ``metrics.test`` (13 metrics per clean test split) and ``metrics.suite`` (VIF and Qabf
against the clean sources, mean over types and per type, on the severity-2 suite of each split)
come from the commands this script runs and records, so a card never holds a number that
``edgefuse eval`` does not reproduce:

    edgefuse degrade --data DATA/msrs/test --out OUT/msrs_test_suite --severity 2 --seed 0
    edgefuse eval --data DATA/msrs/test -m MODEL --metrics ALL --json OUT/msrs_test.json
    edgefuse eval --data OUT/msrs_test_suite --reference DATA/msrs/test -m MODEL --metrics VIF,Qabf --json ...

Usage (repository root)::

    python benchmarks/card_metrics.py --model edge_nano_ivf --write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = {"ivf": {"msrs/test": DATA / "msrs" / "test", "roadscene/test": DATA / "roadscene" / "test"},
        # the medical split of benchmarks/make_medical_split.py (python benchmarks/make_medical_split.py)
        "medical": {"medical_split/test": ROOT / "data" / "medical_split" / "test"}}
ALL = "EN,SD,SF,AG,MI,SCD,VIF,Qabf,Nabf,SSIM,MS_SSIM,CC,PSNR"


def _run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _rel(p: Path) -> str:
    """A path as the card shows it: relative to the repository (``../shared/data/...`` for the data)."""
    return os.path.relpath(p.resolve(), ROOT)


def _shown(arg: str, out: Path) -> str:
    if arg.startswith(str(out)):
        return "OUT" + arg[len(str(out)):]
    return _rel(Path(arg)) if arg.startswith("/") else arg


def measure(model: str, out: Path, task: str) -> tuple[dict, dict, list[str]]:
    test, suite, commands = {}, {}, []
    for name, root in SETS[task].items():
        tag = name.replace("/", "_")
        clean = ["edgefuse", "-q", "eval", "--data", str(root), "-m", f"model={model}", "--metrics", ALL,
                 "--json", str(out / f"{tag}.json")]
        deg = ["edgefuse", "-q", "degrade", "--data", str(root), "--out", str(out / f"{tag}_suite"),
               "--severity", "2", "--seed", "0"]
        ref = ["edgefuse", "-q", "eval", "--data", str(out / f"{tag}_suite"), "--reference", str(root),
               "-m", f"model={model}", "--metrics", "VIF,Qabf", "--json", str(out / f"{tag}_suite.json")]
        for cmd in (clean, deg, ref):
            _run(cmd)
            commands.append(" ".join(_shown(c, out) for c in cmd))
        t = json.loads((out / f"{tag}.json").read_text())["mean"]["model"]
        test[name] = {k: round(float(v), 4) for k, v in t.items()}
        s = json.loads((out / f"{tag}_suite.json").read_text())
        suite[name] = {"mean_over_types": {k: round(float(s["mean"]["model"][k]), 4) for k in ("VIF", "Qabf")},
                       "per_type": {ty: {k: round(float(v["model"][k]), 4) for k in ("VIF", "Qabf")}
                                    for ty, v in s["per_type"].items()}}
    return test, suite, commands


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="edge_nano_ivf",
                   help="Shipped model name, or a .safetensors checkpoint (its card is rewritten).")
    p.add_argument("--out", default=str(ROOT / "runs" / "card_metrics"), help="Folder for the suites and JSON (OUT).")
    p.add_argument("--write", action="store_true", help="Write the numbers into the shipped card.")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.model.endswith(".safetensors"):
        card_file = Path(args.model).with_suffix(".json")
    else:
        card_file = ROOT / "edgefuse" / "assets" / "models" / f"{args.model}.json"
    if not card_file.is_file():
        sys.exit(f"no card {_rel(card_file)}: pass a shipped model name or a checkpoint with its card")
    card = json.loads(card_file.read_text())
    test, suite, commands = measure(args.model, out, card.get("training", {}).get("task", "ivf"))
    print(json.dumps({"test": test, "suite": suite}, indent=1))
    if args.write:
        card["metrics"]["test"] = test
        card["metrics"]["suite"] = suite
        card["metrics"]["test_command"] = "python benchmarks/card_metrics.py --model " + args.model + " --write"
        card["metrics"]["commands"] = commands
        card_file.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote {_rel(card_file)}")


if __name__ == "__main__":
    main()
