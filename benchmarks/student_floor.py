"""How small can the edge student's CPU time get next to its teacher? Variants of EdgeFuseNet at 480x640.

DTPF claims a student at about a tenth of its teacher's parameters and CPU time. The edge student is
at a tenth of the edge teacher's parameters (18,972 vs 203,652), but not of its time: both share the
same full-resolution analytic part (luminance, the 5x5 base/detail split, upsampled blend maps, the
blend), which costs the same in both. This script times, on one machine in one run, the shipped
student with its input stages, the bare student, the student without its full-resolution residual,
a "floor" network whose learned part is almost nothing (widths 4/4/4, one block per level, no residual:
the analytic part alone), and the teacher (a fixed text embedding, no text encoder), in eager torch and
in ONNX Runtime FP32, and reports each as a share of the teacher's time.

Usage (repository root)::

    python benchmarks/student_floor.py [--threads 2] [--repeats 30] [--out benchmarks/results/student_floor]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import torch

from edgefuse.fusion import shipped_models
from edgefuse.hostinfo import cpu_name
from edgefuse.models.checkpoint import read_card
from edgefuse.models import create_model
from edgefuse.models.profile import count_flops, count_params

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import _inputs, _median_ms, ort_ms  # noqa: E402  (the inputs and timers of the model table)

H, W = 480, 640
STAGES = read_card(shipped_models()["edge_nano_ivf"])["config"]  # the shipped default's stages
VARIANTS = (  # (label, registered architecture, config)
    ("edge_teacher (the distillation teacher)", "edge_teacher", {}),
    ("edge_nano + the shipped input stages", "edge_nano", STAGES),
    ("edge_nano", "edge_nano", {}),
    ("edge_nano_sp (its own degradation prior)", "edge_nano_sp", {}),
    ("edge_nano without the full-resolution residual", "edge_nano", {"residual_channels": 0}),
    ("floor: widths 4/4/4, depths 1/1/1, no residual", "edge_nano",
     {"widths": (4, 4, 4), "depths": (1, 1, 1), "residual_channels": 0}),
)
# for scale only (untrained, not a result): a teacher of the same design about five times this one's
# parameters and GFLOPs, to show what share of its time the shipped student would take
COSTLIER = ("edge_teacher widths 96/160/256, depths 2/3/4, residual 48 (untrained)", "edge_teacher",
            {"widths": (96, 160, 256), "depths": (2, 3, 4), "residual_channels": 48})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--out", default="benchmarks/results/student_floor")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for label, arch, config in (*VARIANTS, COSTLIER):
        model = create_model(arch, **config).eval()
        inputs = _inputs(model)
        with torch.no_grad():
            t_ms = _median_ms(lambda m=model, a=inputs: m(*a), args.repeats, warmup=3)
        o_ms = ort_ms(model, args.threads, args.repeats, inputs)
        row = {"variant": label, "architecture": arch, "config": config, "params": count_params(model),
               "gflops": round(count_flops(model, H, W), 3), "torch_ms": round(t_ms, 1),
               "ort_ms": round(o_ms, 1)}
        print(row, file=sys.stderr, flush=True)
        rows.append(row)
    teacher, costlier = rows[0], rows.pop()
    for r in rows:
        for k in ("params", "gflops", "torch_ms", "ort_ms"):
            r[f"{k}_vs_teacher"] = round(r[k] / teacher[k], 4)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shipped = rows[1]
    share = {k: round(shipped[k] / costlier[k], 4) for k in ("params", "torch_ms", "ort_ms")}
    out.with_suffix(".json").write_text(json.dumps({"cpu": cpu_name(), "torch": torch.__version__,
                                                    "threads": args.threads, "repeats": args.repeats,
                                                    "date": str(date.today()), "rows": rows,
                                                    "costlier_teacher": costlier,
                                                    "shipped_vs_costlier": share}, indent=1) + "\n")
    lines = [f"# Edge student vs its teacher: CPU time at {H}x{W}", "",
             f"`python benchmarks/student_floor.py --threads {args.threads} --repeats {args.repeats}` on "
             f"{date.today()}, {cpu_name()}, torch {torch.__version__}, {args.threads} threads, batch 1, random "
             "inputs, median of the timed runs; ONNX Runtime FP32 on a static-shape export (opset 17). The teacher "
             "gets a fixed text embedding (no text encoder).", "",
             "| variant | params | GFLOPs | torch ms | ORT ms | params / teacher | torch / teacher | ORT / teacher |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['params']:,} | {r['gflops']:.2f} | {r['torch_ms']} | {r['ort_ms']} | "
                     f"{100 * r['params_vs_teacher']:.1f} % | {100 * r['torch_ms_vs_teacher']:.1f} % | "
                     f"{100 * r['ort_ms_vs_teacher']:.1f} % |")
    lines += ["", f"For scale (untrained, not a result): {costlier['variant']} has {costlier['params']:,} parameters, "
              f"{costlier['gflops']:.2f} GFLOPs, {costlier['torch_ms']} ms in torch and {costlier['ort_ms']} ms in "
              f"ONNX Runtime; the shipped student with its stages would be {100 * share['params']:.1f} % of its "
              f"parameters, {100 * share['torch_ms']:.1f} % of its torch time and {100 * share['ort_ms']:.1f} % of "
              "its ONNX Runtime time."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
