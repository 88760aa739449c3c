"""CPU benchmark matrix: {dtpf_student, edge_nano, edge_small} x {torch FP32, ONNX Runtime FP32, ONNX Runtime
INT8 Q/DQ} at 256x256 and 480x640, plus dtpf_teacher (torch, ONNX Runtime FP32) at 256x256.

Usage:
    python benchmarks/bench_matrix.py --threads 2                 # full run (~20 min on 2 cores)
    python benchmarks/bench_matrix.py --quick                     # tiny sizes and iterations, end to end (~10 min)
    python benchmarks/bench_matrix.py --only 'edge_*' --only '*/480x640'

Every cell is timed by ``edgefuse.bench.benchmark`` (warm-up, then timed ``Backend.infer`` calls,
p50/p90/p99) in this one process, one cell after another, so the ratios in the report come from
one run. Writes ``<out>.csv``, ``<out>.md`` (table, target ratios, what limits dtpf_student vs
dtpf_teacher) and ``<out>.png`` (quality on msrs/test from ``edgefuse eval`` against latency).

Artefacts (``--work``, default ``export/out/bench_matrix``, git-ignored) are reused when present
(``--fresh`` rebuilds them):
* FP32 ONNX: ``edgefuse.export.export_onnx`` + ``simplify_onnx`` at the size the model computes on
  (DTPF pads 480x640 to 512x640 internally, so its graph is static 512x640 and is fed padded frames).
* INT8 Q/DQ ONNX: ``edgefuse.export.quantize_int8`` (S8S8, per-channel weights, MinMax) calibrated on
  ``--calib`` (msrs/train; test splits are refused). ORT's calibrator keeps every activation of a view in
  memory (~28 GB per 512x640 DTPF view), so DTPF is calibrated on a 128x128 export of the same model
  and its tensor ranges (the ORT calibration cache, keyed by tensor name, which does not depend on the
  size) are reused for the 256x256 and 512x640 graphs.
* dtpf_teacher is text-guided: ``FixedTextTeacher`` feeds one fixed random text embedding (a buffer,
  folded into the ONNX graph as a constant); the text encoder is not timed.
* Weights: shipped or recorded trained weights when they exist (edge_nano: edge_nano_ivf), random
  otherwise (DTPF, edge_small): random weights time the same and their quality is not plotted.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matrix_report import write_outputs  # benchmarks/matrix_report.py, beside this script

from edgefuse.runtime import open_backend
from edgefuse.runtime.backends.torch_backend import TorchBackend
from edgefuse.bench import BenchConfig, benchmark
from edgefuse.bench.models import bench_model, timing_spec
from edgefuse.hostinfo import cpu_name, int8_units
from edgefuse.models.contract import size_multiple_of

STUDENTS = ("dtpf_student", "edge_nano", "edge_small")
FULL_SIZES = {"256x256": (256, 256), "480x640": (480, 640)}
QUICK_SIZES = {"256x256": (64, 64), "480x640": (128, 192)}  # same roles, tiny
CLASSICAL = ("average", "max", "laplacian")


@dataclass
class Cell:
    model: str
    backend: str  # torch | ort
    precision: str  # fp32 | int8
    size_label: str  # 256x256 | 480x640 (the role; --quick runs smaller sizes under the same label)
    size: tuple[int, int]
    warmup: int
    iters: int
    result: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.model}/{self.backend}-{self.precision}/{self.size_label}"


def plan_cells(quick: bool) -> list[Cell]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    cells = []
    for model in STUDENTS:
        for label, size in sizes.items():
            dtpf = model.startswith("dtpf")
            # Two warm-up runs for DTPF: ONNX Runtime records its memory pattern in the first run and allocates the
            # planned block in the second (dtpf_student 512x640: 22.3 s, then 15.4 s from the third run on).
            warmup, iters = (1, 2) if quick else ((2, 3 if label == "480x640" else 5) if dtpf else (5, 30))
            for backend, precision in (("torch", "fp32"), ("ort", "fp32"), ("ort", "int8")):
                cells.append(Cell(model, backend, precision, label, size, warmup, iters))
    for backend in ("torch", "ort"):
        cells.append(Cell("dtpf_teacher", backend, "fp32", "256x256", sizes["256x256"], 1 if quick else 2,
                          2 if quick else 3))
    return cells


def compute_size(model: torch.nn.Module, size: tuple[int, int]) -> tuple[int, int]:
    m = size_multiple_of(model)
    return -(-size[0] // m) * m, -(-size[1] // m) * m


class Artefacts:
    """Builds (or reuses) the FP32 and INT8 ONNX files of each model and size."""

    def __init__(self, work: Path, calib: str, quick: bool, fresh: bool) -> None:
        from edgefuse.export.calibration import CalibrationSet

        self.work, self.quick, self.fresh = work, quick, fresh
        work.mkdir(parents=True, exist_ok=True)
        if fresh:  # tensor ranges are keyed by tensor name: a rebuilt graph must not reuse an old cache
            for stale in work.glob("*_calib.json"):
                stale.unlink()
        self.calib = CalibrationSet.open(calib)
        self.samples = 4 if quick else 16

    def _fresh(self, path: Path) -> bool:
        return self.fresh or not path.is_file()

    def fp32(self, name: str, model: torch.nn.Module, hw: tuple[int, int]) -> Path:
        from edgefuse.export import export_onnx, simplify_onnx

        path = self.work / f"{name}_{hw[0]}x{hw[1]}.onnx"
        if self._fresh(path):
            export_onnx(model, path, *hw)
            simplify_onnx(path)
        return path

    def int8(self, name: str, model: torch.nn.Module, hw: tuple[int, int]) -> tuple[Path, float | None]:
        """The Q/DQ graph and its PSNR (dB) against the FP32 graph on two held-out calibration-folder frames."""
        from edgefuse.export.int8 import pairs_from_feeds, quantize_int8
        from edgefuse.runtime import open_backend
        from edgefuse.runtime.compare import compare

        src = self.fp32(name, model, hw)
        dst = self.work / f"{name}_{hw[0]}x{hw[1]}_int8.onnx"
        dtpf = size_multiple_of(model) > 1
        calib_hw = (64, 64) if dtpf and self.quick else ((128, 128) if dtpf else hw)
        cache = self.work / f"{name}_{calib_hw[0]}x{calib_hw[1]}_calib.json"
        frames = self.calib.frames(calib_hw, self.samples, seed=0)
        if dtpf and not cache.is_file():  # collect the tensor ranges on the small graph once
            quantize_int8(self.fp32(name, model, calib_hw), self.work / f".{name}_calib_int8.onnx", frames,
                          "minmax", cache)
        if self._fresh(dst):
            quantize_int8(src, dst, frames, "minmax", cache)
        if dtpf:
            return dst, None  # random weights: no image quality to speak of, and each DTPF run is costly
        held_out = pairs_from_feeds(self.calib.frames(hw, 2, seed=1))
        with open_backend(onnx=src) as fp, open_backend(onnx=dst) as q:
            return dst, compare(fp.infer, {"int8": q.infer}, held_out)["int8"].psnr_db


def run_cell(cell: Cell, models: dict[str, tuple[torch.nn.Module, str]], arts: Artefacts, threads: int) -> None:
    model, weights = models[cell.model]
    cfg = BenchConfig(warmup=cell.warmup, iters=cell.iters, threads=threads, height=cell.size[0], width=cell.size[1])
    hw = compute_size(model, cell.size)
    cell.extra.update(weights=weights, computed=f"{hw[0]}x{hw[1]}")
    if cell.backend == "torch":
        backend = TorchBackend(model, threads=threads)
    else:
        if cell.precision == "int8":
            path, psnr = arts.int8(cell.model, model, hw)
            cell.extra["int8_psnr_db"] = psnr
        else:
            path = arts.fp32(cell.model, model, hw)
        backend = open_backend(onnx=path, threads=threads)
        cfg = cfg.replace(height=hw[0], width=hw[1])  # the static graph is fed the padded frame
    with backend:
        cell.result = benchmark(backend, cfg)


def dense_share(model: torch.nn.Module, hw: tuple[int, int]) -> float:
    """Fraction of one torch CPU forward's self time spent in convolutions and matrix products."""
    from torch.profiler import ProfilerActivity, profile

    vis, ir = torch.rand(1, 3, *hw), torch.rand(1, 1, *hw)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        model(vis, ir)
    dense = total = 0.0
    for ev in prof.key_averages():
        total += ev.self_cpu_time_total
        if "conv" in ev.key or ev.key in ("aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"):
            dense += ev.self_cpu_time_total
    return dense / total if total else float("nan")


def time_classical(size: tuple[int, int], iters: int) -> dict[str, float]:
    """p50 ms of the classical baselines on one random uint8 pair (numpy/OpenCV, no backend)."""
    from edgefuse.fusion import create_fuser

    rng = np.random.default_rng(0)
    vis = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    ir = rng.integers(0, 256, size, dtype=np.uint8)
    out = {}
    for name in CLASSICAL:
        fuse = create_fuser(name)
        fuse(vis, ir)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fuse(vis, ir)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = float(np.median(times))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="CPU benchmark matrix of the fusion models (see module docstring)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (64x64, 128x192) and 2 iterations per cell")
    ap.add_argument("--only", action="append", default=[], help="fnmatch pattern over cell ids, repeatable")
    ap.add_argument("--calib", default="../shared/data/msrs/train", help="INT8 calibration pairs (never a test split)")
    ap.add_argument("--quality", default="benchmarks/results/comparison_msrs_test.json")
    ap.add_argument("--work", default="export/out/bench_matrix", help="where the ONNX artefacts are built")
    ap.add_argument("--fresh", action="store_true", help="rebuild ONNX artefacts even when present")
    ap.add_argument("--out", default=None, help="output stem [benchmarks/results/bench_matrix; with --quick "
                    "export/out/bench_matrix/quick/bench_matrix_quick, git-ignored: quick numbers are not results]")
    args = ap.parse_args()
    quick_out = Path(args.work) / "quick" / "bench_matrix_quick"
    out = Path(args.out) if args.out else (quick_out if args.quick else Path("benchmarks/results/bench_matrix"))
    torch.set_num_threads(args.threads)
    cells = [c for c in plan_cells(args.quick) if not args.only or any(fnmatch.fnmatch(c.id, p) for p in args.only)]
    models = {name: bench_model(*timing_spec(name)) for name in sorted({c.model for c in cells})}
    arts = Artefacts(Path(args.work) / ("quick" if args.quick else "full"), args.calib, args.quick, args.fresh)
    start = time.perf_counter()
    for i, cell in enumerate(cells, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(cells)}] {cell.id} (warmup {cell.warmup}, iters {cell.iters}) ...", flush=True)
        run_cell(cell, models, arts, args.threads)
        lat = cell.result["latency_ms"]
        print(f"    p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, {cell.result['throughput_fps']:.2f} pairs/s "
              f"({time.perf_counter() - t0:.0f} s for the cell, {time.perf_counter() - start:.0f} s so far)",
              flush=True)
    extra = {"flops": {}, "dense_share": {}, "classical_ms": {}, "vnni": int8_units(), "threads": args.threads,
             "quick": args.quick, "cpu": cpu_name(),
             "minutes": (time.perf_counter() - start) / 60, "command": _command(args)}
    _measure_extras(cells, models, extra, args)
    write_outputs(out, cells, extra, _quality(args.quality))
    print(f"wrote {out}.csv, {out}.md, {out}.png")


def _measure_extras(cells: list[Cell], models: dict[str, Any], extra: dict[str, Any], args: argparse.Namespace) -> None:
    from edgefuse.models.profile import model_summary

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    for name in models:
        extra["flops"][name] = {label: model_summary(name, *hw)["gflops"] for label, hw in sizes.items()}
    if {"dtpf_student", "dtpf_teacher"} <= set(models):
        print("profiling one torch forward of dtpf_student and dtpf_teacher at 256x256 (dense-op share)", flush=True)
        for name in ("dtpf_student", "dtpf_teacher"):
            extra["dense_share"][name] = dense_share(models[name][0], sizes["256x256"])
    extra["classical_ms"] = time_classical(sizes["480x640"], 5 if args.quick else 20)


def _command(args: argparse.Namespace) -> str:
    parts = ["python benchmarks/bench_matrix.py", f"--threads {args.threads}"]
    parts += ["--quick"] * args.quick + [f"--only '{p}'" for p in args.only]
    return " ".join(parts)


def _quality(path: str) -> dict[str, dict[str, float]]:
    p = Path(path)
    return json.loads(p.read_text()).get("mean", {}) if p.is_file() else {}


if __name__ == "__main__":
    main()
