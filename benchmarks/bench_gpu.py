"""GPU check: torch CUDA FP32, FP16 and FP16 + CUDA graphs for every model at 480x640 (no TensorRT needed),
plus dtpf_student and dtpf_teacher at 256x256 (FP32, FP16) for the student/teacher time ratio.

Usage (on a CUDA machine; about 3-5 minutes on one H100, designed to finish well inside 10):
    python benchmarks/bench_gpu.py [--iters 50] [--warmup 10] [--out benchmarks/results]

Each cell is one ``edgefuse.bench.benchmark`` run of the torch backend (``TorchBackend`` with
``device="cuda"``): latency p50/p90/p99 of ``Backend.infer`` (host array in, host array out, so
H2D and D2H are included and split out in ``stages_ms``), pairs/s and peak device memory
(``torch.cuda.max_memory_allocated``). Models: dtpf_student, dtpf_teacher (with
``FixedTextTeacher``: one fixed text embedding, the text encoder is not timed), edge_nano,
edge_small, edge_teacher; shipped weights where they exist, random otherwise (timing only).
A cell that fails (e.g. out of memory, or CUDA-graph capture refused by an op) is recorded with
its error and the run goes on. Writes ``bench_gpu_<gpu-name>.md`` and ``.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch

from edgefuse.runtime.backends.torch_backend import TorchBackend
from edgefuse.bench import BenchConfig, benchmark
from edgefuse.bench.models import bench_model, timing_spec
from edgefuse.bench.stats import round_floats

MODELS = ("dtpf_student", "dtpf_teacher", "edge_nano", "edge_small", "edge_teacher")
MODES = (("fp32", False), ("fp16", False), ("fp16", True))  # (precision, CUDA graphs)
H, W = 480, 640
RATIO_SIZE = (256, 256)  # dtpf_student vs dtpf_teacher, the size of the CPU matrix's ratio


def run_cell(model: torch.nn.Module, precision: str, graphs: bool, args: argparse.Namespace,
             size: tuple[int, int] = (H, W)) -> dict[str, Any]:
    cfg = BenchConfig(device="cuda", precision=precision, cuda_graphs=graphs, height=size[0], width=size[1],
                      warmup=args.warmup, iters=args.iters)
    backend = TorchBackend(model, device="cuda", precision=precision, cuda_graphs=graphs)
    try:
        with backend:
            return benchmark(backend, cfg)
    finally:
        model.float().cpu()  # TorchBackend moves (and halves) the module in place; give it back as it came
        torch.cuda.empty_cache()


def main() -> int:
    ap = argparse.ArgumentParser(description="torch CUDA latency of every model at 480x640")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--dtpf-iters", type=int, default=20, help="timed iterations for the DTPF models")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("error: bench_gpu.py needs a CUDA GPU and a CUDA build of torch; torch "
              f"{torch.__version__} sees none here. Run it on the GPU machine.", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name(0)
    start = time.perf_counter()
    cells: list[dict[str, Any]] = []
    plan = [(name, mode, (H, W)) for name in MODELS for mode in MODES]
    plan += [(name, mode, RATIO_SIZE) for name in ("dtpf_student", "dtpf_teacher") for mode in MODES[:2]]
    models: dict[str, tuple[torch.nn.Module, str]] = {}
    for name, (precision, graphs), size in plan:
        if name not in models:
            models[name] = bench_model(*timing_spec(name))
        model, weights = models[name]
        label = f"{name} {size[0]}x{size[1]} {precision}{' + CUDA graphs' if graphs else ''}"
        print(f"[{len(cells) + 1}/{len(plan)}] {label} ...", flush=True)
        iters = args.dtpf_iters if name.startswith("dtpf") else args.iters
        one = argparse.Namespace(**{**vars(args), "iters": iters})
        cell: dict[str, Any] = {"model": name, "weights": weights, "precision": precision, "cuda_graphs": graphs,
                                "height": size[0], "width": size[1]}
        try:
            cell["result"] = run_cell(model, precision, graphs, one, size)
            lat = cell["result"]["latency_ms"]
            print(f"    p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, "
                  f"{cell['result']['throughput_fps']:.1f} pairs/s", flush=True)
        except Exception as e:  # recorded per cell: one failing mode must not lose the others
            cell["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            print(f"    failed: {cell['error']}", flush=True)
        cells.append(cell)
        # rewritten after every cell, so a run stopped early still leaves what it measured
        write(Path(args.out), gpu, cells, (time.perf_counter() - start) / 60, len(plan))
    print(f"wrote {Path(args.out)}/bench_gpu_<gpu>.md and .json")
    return 0


def _ratios(cells: list[dict[str, Any]]) -> list[str]:
    """dtpf_student p50 / dtpf_teacher p50 for every (size, mode) measured for both."""
    p50 = {(c["model"], c["height"], c["width"], c["precision"], c["cuda_graphs"]): c["result"]["latency_ms"]["p50"]
           for c in cells if "result" in c}
    lines = []
    for (model, h, w, prec, graphs), student in p50.items():
        teacher = p50.get(("dtpf_teacher", h, w, prec, graphs))
        if model == "dtpf_student" and teacher:
            mode = prec + (" + CUDA graphs" if graphs else "")
            lines.append(f"| {h}x{w} | {mode} | {student:.2f} | {teacher:.2f} | {100 * student / teacher:.1f} % |")
    return lines


def write(out: Path, gpu: str, cells: list[dict[str, Any]], minutes: float, planned: int) -> None:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", gpu).strip("_").lower()
    out.mkdir(parents=True, exist_ok=True)
    doc = {"gpu": gpu, "date": str(date.today()), "torch": torch.__version__, "cuda": torch.version.cuda,
           "batch": 1, "minutes": minutes, "cells_planned": planned, "cells": cells}
    (out / f"bench_gpu_{slug}.json").write_text(json.dumps(round_floats(doc), indent=2) + "\n")
    lines = [f"# torch CUDA latency on {gpu}", "",
             f"`python benchmarks/bench_gpu.py` on {date.today()}, torch {torch.__version__}, "
             f"CUDA {torch.version.cuda}, "
             f"batch 1, cudnn.benchmark on, {minutes:.1f} min, {len(cells)} of {planned} cells. "
             "Latency = one `Backend.infer` with host arrays in and out (H2D and D2H included). DTPF computes on 512x640 (padded); dtpf_teacher gets one fixed text "
             "embedding (text encoder not timed). Random weights where none are shipped (timing only).", "",
             "| model | size | weights | mode | p50 ms | p90 ms | p99 ms | pairs/s | h2d / compute / d2h ms | peak MiB |",
             "|---|---|---|---|---:|---:|---:|---:|---|---:|"]
    for c in cells:
        mode = c["precision"] + (" + CUDA graphs" if c["cuda_graphs"] else "")
        size = f"{c['height']}x{c['width']}"
        if "error" in c:
            lines.append(f"| {c['model']} | {size} | {c['weights']} | {mode} | failed: {c['error'][:80]} | | | | | |")
            continue
        r, lat = c["result"], c["result"]["latency_ms"]
        st = r["stages_ms"]
        split = " / ".join(f"{st.get(k, float('nan')):.2f}" for k in ("h2d", "compute", "d2h"))
        lines.append(f"| {c['model']} | {size} | {c['weights']} | {mode} | {lat['p50']:.2f} | {lat['p90']:.2f} | "
                     f"{lat['p99']:.2f} | {r['throughput_fps']:.1f} | {split} | {r['peak_device_mb']:.0f} |")
    ratios = _ratios(cells)
    if ratios:
        lines += ["", "dtpf_student time as a share of dtpf_teacher's (p50; the paper claims about 10 %, the FLOP "
                  "ratio is 14.7 %):", "", "| size | mode | student ms | teacher ms | student / teacher |",
                  "|---|---|---:|---:|---:|", *ratios]
    (out / f"bench_gpu_{slug}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
