"""Copy trained runs into the package (shipped models) or the results (ablation weights), and
add the measured test-set metrics of benchmarks/results/comparison_*.json to their cards.

Usage: python benchmarks/ship_models.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgefuse.models.checkpoint import card_path, file_sha256, read_card

RESULTS = Path("benchmarks/results")
SHIPPED = Path("edgefuse/assets/models")
WEIGHTS = RESULTS / "weights"
# run folder -> (destination, label in the comparison tables)
PLAN = {
    "runs/edge_nano_kd": (SHIPPED / "edge_nano_ivf.safetensors", "nano_kd"),
    "runs/edge_teacher": (SHIPPED / "edge_teacher_ivf.safetensors", "teacher"),
    "runs/edge_nano_med": (SHIPPED / "edge_nano_med.safetensors", "nano_med"),
    "runs/edge_nano_kd_fixed": (WEIGHTS / "edge_nano_kd_fixed.safetensors", "nano_kd_fixed"),
    "runs/edge_nano_plain": (WEIGHTS / "edge_nano_plain.safetensors", "nano_plain"),
}
SETS = {"msrs/test": "msrs_test", "roadscene/test": "roadscene_test", "medical_split/test": "medical_test"}
# constructor options the shipped students run with (no parameters: the same weights as trained);
# benchmarks/card_metrics.py then measures them with these options
SHIP_CONFIG = {"edge_nano_ivf": {"ir_black_level": True, "ir_denoise": True, "ir_destripe": True, "vis_denoise": True},
               "edge_nano_med": {"ir_black_level": True}}


def test_metrics(label: str) -> dict[str, dict[str, float]]:
    found = {}
    for name, tag in SETS.items():
        path = RESULTS / f"comparison_{tag}.json"
        if path.is_file():
            doc = json.loads(path.read_text())
            if label in doc["mean"]:
                found[name] = {k: round(v, 4) for k, v in doc["mean"][label].items()}
    return found


def cpu_cost(architecture: str) -> dict[str, object]:
    """Params, GFLOPs and CPU latency at 480x640 from benchmarks/results/models_cpu.csv."""
    import csv

    path = RESULTS / "models_cpu.csv"
    if not path.is_file():
        return {}
    for row in csv.DictReader(path.open()):
        if row["model"] == architecture:
            return {"params": int(row["params"]), "gflops_480x640": float(row["gflops_480x640"]),
                    "torch_ms_480x640_2threads": float(row["torch_ms"]),
                    "ort_fp32_ms_480x640_2threads": float(row["ort_ms"]) if row["ort_ms"] else None,
                    "command": "python benchmarks/bench_models.py --threads 2"}
    return {}


def main() -> None:
    for run, (dest, label) in PLAN.items():
        src = Path(run) / "model.safetensors"
        if not src.is_file():
            print(f"skip {run}: no model.safetensors")
            continue
        card = read_card(src)
        card["metrics"]["test"] = test_metrics(label)
        card["metrics"]["test_command"] = "bash benchmarks/run_comparison.sh"
        card["metrics"]["cpu_cost"] = cpu_cost(card["architecture"])
        if dest.stem in SHIP_CONFIG:
            card["config"] = {**card.get("config", {}), **SHIP_CONFIG[dest.stem]}
            print(f"{dest.stem}: config {card['config']}; run python benchmarks/card_metrics.py --model "
                  f"{dest.stem} --write for metrics measured with it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        assert file_sha256(dest) == card["sha256"]
        card_path(dest).write_text(json.dumps(card, indent=2) + "\n")
        log = Path(run) / "log.csv"
        if log.is_file():
            shutil.copyfile(log, WEIGHTS / f"{dest.stem}.log.csv")
        print(f"{run} -> {dest} ({dest.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
