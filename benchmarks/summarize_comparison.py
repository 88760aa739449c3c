"""Append the cost table, the student-vs-pixel-max table and the distillation ablation to comparison.md.

Reads benchmarks/results/comparison_*.json (from run_comparison.sh) and models_cpu.csv (from
bench_models.py); rewrites everything below the marker line in comparison.md, so it can be rerun.

Usage: python benchmarks/summarize_comparison.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from edgefuse.metrics import METRICS

RESULTS = Path("benchmarks/results")
MARKER = "<!-- summary: python benchmarks/summarize_comparison.py -->"
ARCH = {"teacher": "edge_teacher", "nano_kd": "edge_nano", "nano_kd_fixed": "edge_nano", "nano_plain": "edge_nano",
        "nano_med": "edge_nano"}
SETS = ("msrs_test", "roadscene_test", "medical_test")


def _load(tag: str) -> dict:
    return json.loads((RESULTS / f"comparison_{tag}.json").read_text())["mean"]


def cost_table() -> list[str]:
    rows = {r["model"]: r for r in csv.DictReader((RESULTS / "models_cpu.csv").open())}
    out = ["## Cost per model at 480x640 (CPU, 2 threads)", "",
           "From `benchmarks/results/models_cpu.md` (`python benchmarks/bench_models.py --threads 2`, one run). "
           "Classical baselines cost no parameters. DTPF rows are the paper-size architectures (not trained here, "
           "no GPU in this project's sessions so far); they set the latency scale.", "",
           "| entry | architecture | params | GFLOPs | torch ms | ORT FP32 ms |", "|---|---|---:|---:|---:|---:|"]
    for label, arch in [*ARCH.items(), ("—", "dtpf_student"), ("—", "dtpf_teacher")]:
        r = rows[arch]
        why = "n/a: text-guided (needs the text encoder)" if "teacher" in arch else "see bench_matrix.md"
        out.append(f"| {label} | {arch} | {int(r['params']):,} | {r['gflops_480x640']} | {r['torch_ms']} | "
                   f"{r['ort_ms'] or why} |")
    return out


def vs_max(label: str = "nano_kd") -> list[str]:
    out = [f"## The default student ({label}) against pixel-max, every metric", "",
           "Pixel-max copies a source pixel everywhere, which favours MI, SCD, SSIM-type and CC scores "
           "(information is copied, not blended) and gives Nabf ≈ 0 (no artefacts can be added). "
           "Δ = student − max; ✓ = the student is better in the metric's own direction.", "",
           "| metric | " + " | ".join(f"{s} max | {s} student | Δ" for s in SETS[:2]) + " |",
           "|---|" + "---:|---:|---|" * 2]
    means = {s: _load(s) for s in SETS[:2]}
    wins = {s: 0 for s in SETS[:2]}
    names = [m for m in means[SETS[0]]["max"] if m in METRICS]
    for m in names:
        hib = METRICS.get(m).higher_is_better
        cells = []
        for s in SETS[:2]:
            a, b = means[s]["max"][m], means[s][label][m]
            better = (b > a) if hib else (b < a)
            wins[s] += better
            cells.append(f"{a:.4f} | {b:.4f} | {b - a:+.4f} {'✓' if better else '✗'}")
        out.append(f"| {m} {'↑' if hib else '↓'} | " + " | ".join(cells) + " |")
    out += ["", "Student better than pixel-max on " + ", ".join(f"{wins[s]}/{len(names)} metrics ({s})"
                                                               for s in SETS[:2]) + "."]
    return out


def distillation() -> list[str]:
    out = ["## Distillation against the same student trained without it (same 3000 iterations, batch 8)", "",
           "| set | metric | kd (trainable adapters) | kd (fixed adapters, as DTPF) | plain | teacher |",
           "|---|---|---:|---:|---:|---:|"]
    for s in SETS[:2]:
        mean = _load(s)
        for m in ("VIF", "Qabf", "SSIM", "MI"):
            out.append(f"| {s} | {m} | {mean['nano_kd'][m]:.4f} | {mean['nano_kd_fixed'][m]:.4f} | "
                       f"{mean['nano_plain'][m]:.4f} | {mean['teacher'][m]:.4f} |")
    ms, rs = _load("msrs_test"), _load("roadscene_test")
    n = {"msrs_test": 20, "roadscene_test": 50}
    lines = []
    for tag, mean in (("msrs_test", ms), ("roadscene_test", rs)):
        std = json.loads((RESULTS / f"comparison_{tag}.json").read_text()).get("std", {}).get("nano_plain", {})
        se = std.get("VIF", float("nan")) / n[tag] ** 0.5
        lines.append(f"{tag}: teacher − plain student VIF {mean['teacher']['VIF'] - mean['nano_plain']['VIF']:+.4f}, "
                     f"Qabf {mean['teacher']['Qabf'] - mean['nano_plain']['Qabf']:+.4f}; distilled − plain VIF "
                     f"{mean['nano_kd']['VIF'] - mean['nano_plain']['VIF']:+.4f}, Qabf "
                     f"{mean['nano_kd']['Qabf'] - mean['nano_plain']['Qabf']:+.4f} (standard error of a VIF mean "
                     f"≈ {se:.4f})")
    out += ["", "**Distillation did not beat plain training here, and why.** Distillation can only pass on what "
            "the teacher knows beyond the student's own loss. Our teacher (edge_teacher, 204k parameters, trained "
            "4000 iterations on the same CPUs) is barely better than the plain 19k student:", "",
            *[f"- {x}" for x in lines], "",
            "The teacher is below the plain student on VIF on both sets and ahead on Qabf by at most 0.015, "
            "and the distilled−plain gaps are within one standard error of a set mean, so the feature and "
            "output terms pull the student toward images that the fusion loss already reaches; "
            "the trainable adapters (our default) beat DTPF's fixed random adapters on VIF on both sets, by "
            "small margins. The paper's gain comes from a 40 M-parameter transformer teacher, ~10x the "
            "student; training that needs a GPU (not lent to this project's sessions so far)."]
    return out


def main() -> None:
    path = RESULTS / "comparison.md"
    text = path.read_text()
    head = text.split(MARKER)[0].rstrip() + "\n\n"
    body = [MARKER, "", *cost_table(), "", *vs_max(), "", *distillation(), ""]
    path.write_text(head + "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
