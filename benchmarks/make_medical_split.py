"""Split the Harvard MRI-CT and MRI-PET pairs into train/test for the medical student.

The shared Harvard sets have no train split (shared/data/README.md), so we make one here,
deterministically: within each set, every third pair in name order (2nd, 5th, 8th, ...) is
test, the rest train. The split is written as symlink folders (git-ignored) and recorded in
benchmarks/results/medical_split.csv so that every number can be traced to it.

Usage: python benchmarks/make_medical_split.py [--data ../shared/data] [--out data/medical_split]
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from edgefuse.data.pairs import find_pairs

SETS = ("mri_ct", "mri_pet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="data/medical_split")
    ap.add_argument("--record", default="benchmarks/results/medical_split.csv")
    args = ap.parse_args()
    out = Path(args.out)
    rows = []
    for name in SETS:
        pairs = find_pairs(Path(args.data) / "harvard" / name)
        for i, pair in enumerate(pairs):
            split = "test" if i % 3 == 1 else "train"
            for role, src in (("mri", pair.ir), ("other", pair.vis)):
                dst = out / split / role / f"{name}_{src.name}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.is_symlink() or dst.exists():
                    dst.unlink()
                os.symlink(src.resolve(), dst)
            rows.append({"set": name, "pair": pair.name, "split": split})
    with open(args.record, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["set", "pair", "split"])
        writer.writeheader()
        writer.writerows(rows)
    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "test")}
    print(f"wrote {out}/train ({counts['train']} pairs) and {out}/test ({counts['test']} pairs); split in {args.record}")


if __name__ == "__main__":
    main()
