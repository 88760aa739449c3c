"""Params, GFLOPs and CPU latency at 480x640 of every registered model (torch and ONNX Runtime FP32).

Usage: python benchmarks/bench_models.py [--threads 2] [--repeats 20] [--out benchmarks/results/models_cpu]

Latency is the median of ``--repeats`` timed runs after warm-up, one pair (batch 1), random
inputs, on ``--threads`` CPU threads. The DTPF models take tens of seconds per 480x640 pair
on a CPU, so they get ``--dtpf-repeats`` runs (default 1). Text-guided teachers are timed
without the text encoder (a fixed embedding is fed). ONNX Runtime timings use a static-shape
FP32 export (opset 17) of each text-free model that exports in reasonable time (edge models).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from edgefuse.models import MODELS, create_model
from edgefuse.models.profile import model_summary
from edgefuse.hostinfo import cpu_name

H, W = 480, 640


def _inputs(model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    args: tuple[torch.Tensor, ...] = (torch.rand(1, 3, H, W), torch.rand(1, 1, H, W))
    if model.text_dim:
        args += (torch.rand(1, model.text_dim),)
    return args


def _median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def torch_ms(model: torch.nn.Module, repeats: int, warmup: int) -> float:
    args = _inputs(model)
    with torch.no_grad():
        return _median_ms(lambda: model(*args), repeats, warmup)


def ort_ms(model: torch.nn.Module, threads: int, repeats: int,
           args: tuple[torch.Tensor, ...] | None = None) -> float:
    """Median ms of a static-shape FP32 export of ``model`` (a teacher's text embedding is an input too)."""
    import onnxruntime as ort

    args = _inputs(model) if args is None else args
    names = ["vis", "ir", "text"][: len(args)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        torch.onnx.export(model, args, str(path), input_names=names, output_names=["fused"],
                          opset_version=17, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        feeds = {n: a.numpy() for n, a in zip(names, args, strict=True)}
        return _median_ms(lambda: sess.run(None, feeds), repeats, warmup=3)


def main() -> None:
    ap = argparse.ArgumentParser(description="CPU latency of every model at 480x640")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--dtpf-repeats", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/models_cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in MODELS.names():
        s = model_summary(name, H, W)
        model = create_model(name).eval()
        dtpf = name.startswith("dtpf")
        reps = args.dtpf_repeats if dtpf else args.repeats
        row = {"model": name, "params": s["params"], "gflops_480x640": round(s["gflops"], 2),
               "torch_ms": round(torch_ms(model, reps, 0 if dtpf else 3), 1), "torch_runs": reps}
        row["ort_ms"] = "" if dtpf or s["text_dim"] else round(ort_ms(model, args.threads, args.repeats), 1)
        print(row, flush=True)
        rows.append(row)
    out = Path(args.out)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    student = next(r for r in rows if r["model"] == "dtpf_student")
    lines = [f"# Model size and CPU latency at {H}x{W}", "",
             f"`python benchmarks/bench_models.py --threads {args.threads}` on {date.today()}, "
             f"{cpu_name()}, torch {torch.__version__}, {args.threads} threads, batch 1, "
             "median of the timed runs. DTPF models compute on 512x640 (padded to a multiple of 64).", "",
             "| model | params | GFLOPs | torch ms (runs) | ORT FP32 ms | ORT FPS | torch latency vs dtpf_student |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fps = f"{1000 / r['ort_ms']:.1f}" if r["ort_ms"] else ""
        ratio = f"{100 * r['torch_ms'] / student['torch_ms']:.2f}%"
        lines.append(f"| {r['model']} | {r['params']:,} | {r['gflops_480x640']} | {r['torch_ms']} ({r['torch_runs']}) "
                     f"| {r['ort_ms']} | {fps} | {ratio} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
