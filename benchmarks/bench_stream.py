"""End-to-end ``edgefuse stream`` FPS against the backend's own FPS on the same frames.

Usage: python benchmarks/bench_stream.py [--onnx export/out/edge_nano_ivf.onnx] [--clip 0111_1716]
       [--frames 151] [--threads 2] [--repeats 3] [--out-video] [--results benchmarks/results/stream_fps]

One run measures, on one M3SVD clip pair (../shared/data/m3svd/video):

1. backend FPS: the clip's frames decoded into memory first, then an infer-only loop of
   ``Backend.fuse_u8`` over the same (visible, IR) pairs, after warm-up;
2. pipeline FPS: ``edgefuse stream`` on the two files, policy ``all`` (offline: every pair
   fused), decoding, pairing, registration, inference, post-processing and (with
   ``--out-video``) mp4 writing running concurrently. ``fps`` is the steady-state rate
   between the first and last output frame; ``wall_fps`` also counts the pipeline fill.

``--live`` measures something else: end-to-end latency per stage of ``edgefuse stream`` (the CLI,
default backend) on live-paced synthetic sources at 30 fps and at 9 Hz, and writes
``benchmarks/results/stream_latency.{md,json}``; ``--tree DIR`` runs another checkout (e.g. the
code before a change, ``git archive``-ed into DIR) for a before/after comparison.

Both measurements alternate ``--repeats`` times and the medians are compared, so a burst of
other load hits both. The ratio pipeline/backend is the check of issue 6 (>= 0.90). Run it on
an otherwise idle machine; the default model is the edge student exported to FP32 ONNX (ONNX Runtime, CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from edgefuse.runtime import open_backend
from edgefuse.data.images import grey_u8_from_rgb
from edgefuse.stream import StreamConfig, StreamRunner
from edgefuse.hostinfo import cpu_name

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "m3svd" / "video"
GATE = 0.90


def _relative(value: object) -> object:
    """Paths inside the repository are recorded relative to it (results must not name this machine)."""
    if isinstance(value, str) and value.startswith(str(REPO) + os.sep):
        return os.path.relpath(value, REPO)
    return value


def decode(path: Path, limit: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def ensure_onnx(path: Path) -> Path:
    if path.is_file():
        return path
    print(f"{path} not found; exporting the edge student (edgefuse export --precision fp32)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "edgefuse.cli.main", "export", "--precision", "fp32",
                    "--out", str(path.parent)], check=True)
    return path


def backend_fps(onnx: Path, threads: int, vis: list[np.ndarray], ir: list[np.ndarray]) -> dict:
    with open_backend(onnx=onnx, threads=threads) as be:
        for k in range(3):  # warm-up: session start, first-run allocations
            be.fuse_u8(vis[k % len(vis)], ir[k % len(ir)])
        times = []
        start = time.perf_counter()
        for v, i in zip(vis, ir):
            t0 = time.perf_counter()
            be.fuse_u8(v, i)
            times.append((time.perf_counter() - t0) * 1000.0)
        total = time.perf_counter() - start
        return {"fps": len(times) / total, "ms_median": statistics.median(times), "frames": len(times),
                "describe": {k: _relative(be.describe().get(k)) for k in ("backend", "device", "precision", "artefact")}}


def pipeline_fps(onnx: Path, threads: int, ir: Path, vis: Path, frames: int, out_video: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = (str(Path(tmp) / "fused.mp4"),) if out_video else ()
        cfg = StreamConfig(ir=f"file://{ir}", vis=f"file://{vis}", policy="all", max_frames=frames, outputs=outputs)
        with open_backend(onnx=onnx, threads=threads) as be:
            runner = StreamRunner(cfg, be)
            be.fuse_u8(np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.uint8))  # same warm-up state
            start = time.perf_counter()
            stats = runner.run()
            wall = time.perf_counter() - start
    stats["wall_fps"] = stats["frames_out"] / wall
    return stats


def write_results(base: Path, result: dict) -> None:
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    b, p = result["backend"], result["pipeline"]
    lines = [
        "# edgefuse stream: pipeline FPS vs backend FPS", "",
        f"{result['date']}, {result['machine']}, {result['cpus']} CPUs, clip {result['clip']} "
        f"({result['frames']} pairs, 640x480), {b['describe']['backend']} {b['describe']['precision']} "
        f"on {result['threads']} threads, model {Path(str(b['describe']['artefact'])).name}.", "",
        "| measurement | FPS | notes |", "|---|---|---|",
        f"| backend only (pre-decoded frames, `fuse_u8` loop) | {b['fps']:.2f} | median {b['ms_median']:.1f} ms/pair |",
        f"| `edgefuse stream`, policy all (steady state) | {p['fps']:.2f} | latency p50 "
        f"{p['latency_ms']['p50']:.0f} ms, p99 {p['latency_ms']['p99']:.0f} ms |",
        f"| `edgefuse stream`, wall clock incl. fill | {p['wall_fps']:.2f} | {p['frames_out']} frames out"
        f"{', mp4 written' if result['out_video'] else ', no sink'} |", "",
        f"Medians of {len(result['repeats']['backend_fps'])} alternating runs: backend "
        f"{result['repeats']['backend_fps']}, pipeline {result['repeats']['pipeline_fps']} FPS.", "",
        f"Ratio pipeline/backend: **{result['ratio']:.3f}** (gate >= {GATE:.2f}: "
        f"{'pass' if result['ratio'] >= GATE else 'FAIL'}); wall-clock ratio {result['wall_ratio']:.3f}.", "",
        f"Rerun: `python benchmarks/bench_stream.py --frames {result['frames']} --threads {result['threads']} "
        f"--repeats {len(result['repeats']['backend_fps'])}"
        f"{' --out-video' if result['out_video'] else ''}` on an idle machine.", "",
    ]
    base.with_suffix(".md").write_text("\n".join(lines))


def live_latency(tree: Path, rates: list[float], frames: int, label: str) -> list[dict]:
    """``edgefuse stream`` on live-paced synthetic sources (default backend) in ``tree``; its stats per rate."""
    rows = []
    for fps in rates:
        with tempfile.TemporaryDirectory() as tmp:
            stats_path = Path(tmp) / "s.json"
            cmd = [sys.executable, "-m", "edgefuse.cli.main", "stream", "--ir", f"synthetic://ir?fps={fps:g}&realtime=1",
                   "--vis", f"synthetic://vis?fps={fps:g}&realtime=1", "--max-frames", str(frames),
                   "--stats", str(stats_path)]
            subprocess.run(cmd, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True,
                           capture_output=True, timeout=600)
            st = json.loads(stats_path.read_text())
        rows.append({"label": label, "rate": fps, "backend": st["backend"], "fps": st["fps"],
                     "latency_ms": st["latency_ms"], "stages": st.get("latency_stages_ms"),
                     "skipped_pairs": st["skipped_pairs"], "pairs": st["pairs"], "infer_ms": st["infer_ms"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def write_latency(base: Path, rows: list[dict], frames: int) -> None:
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps({"date": date.today().isoformat(), "cpus": os.cpu_count(),
                                                     "frames": frames, "rows": rows}, indent=2) + "\n")
    lines = ["# edgefuse stream: end-to-end latency per stage (live-paced synthetic sources, default backend)", "",
             f"{date.today().isoformat()}, {os.cpu_count()} CPUs (shared with other jobs: absolute numbers are noisy), "
             f"{frames} pairs per run, 640x480, policy auto (latest). Stages p50/p99 ms.", "",
             "| code | rate | backend | fps out | capture->pair | pair->infer | infer | infer->sink | total p50 | total p99 |"
             " skipped |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        st = r["stages"] or {}
        cell = (lambda k: f"{st[k]['p50']:.0f}/{st[k]['p99']:.0f}" if k in st else "n/a")
        lines.append(f"| {r['label']} | {r['rate']:g} Hz | {r['backend']} | {r['fps']:.1f} | {cell('capture_to_pair')} | "
                     f"{cell('pair_to_infer')} | {cell('infer')} | {cell('infer_to_sink')} | "
                     f"{r['latency_ms']['p50']:.0f} | {r['latency_ms']['p99']:.0f} | {r['skipped_pairs']} |")
    lines += ["", "Before the change the total ran from the *arrival* of a frame to the sink (no stages); after, from its "
              "capture time.", ""]
    base.with_suffix(".md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--live", action="store_true", help="Per-stage latency on live-paced 30 fps and 9 Hz sources.")
    ap.add_argument("--tree", type=Path, action="append", help="With --live: LABEL=DIR of another checkout (repeatable).")
    ap.add_argument("--onnx", type=Path, default=REPO / "export" / "out" / "edge_nano_ivf.onnx")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--clip", default="0111_1716")
    ap.add_argument("--frames", type=int, default=151)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="Alternating runs of both measurements (median).")
    ap.add_argument("--out-video", action="store_true", help="Also write the fused mp4 in the pipeline run.")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "stream_fps")
    args = ap.parse_args()
    if args.live:
        rows = []
        for spec in args.tree or []:
            label, _, tree = str(spec).partition("=")
            rows += live_latency(Path(tree), [30.0, 9.0], args.frames, label)
        rows += live_latency(REPO, [30.0, 9.0], args.frames, "this tree")
        write_latency(REPO / "benchmarks" / "results" / "stream_latency", rows, args.frames)
        return
    ir_clip, vis_clip = args.data / "ir" / f"{args.clip}.mp4", args.data / "vi" / f"{args.clip}.mp4"
    if not ir_clip.is_file() or not vis_clip.is_file():
        sys.exit(f"clip pair {args.clip} not found under {args.data}")
    onnx = ensure_onnx(args.onnx)
    vis = decode(vis_clip, args.frames)
    ir = [grey_u8_from_rgb(f) for f in decode(ir_clip, args.frames)]
    n = min(len(vis), len(ir))
    runs_b, runs_p = [], []
    for _ in range(max(1, args.repeats)):
        runs_b.append(backend_fps(onnx, args.threads, vis[:n], ir[:n]))
        runs_p.append(pipeline_fps(onnx, args.threads, ir_clip, vis_clip, n, args.out_video))
    b = sorted(runs_b, key=lambda r: r["fps"])[len(runs_b) // 2]
    p = sorted(runs_p, key=lambda r: r["fps"])[len(runs_p) // 2]
    result = {"date": date.today().isoformat(), "machine": cpu_name(),
              "cpus": os.cpu_count(), "clip": args.clip, "frames": n, "threads": args.threads,
              "out_video": args.out_video, "backend": b,
              "pipeline": {k: p[k] for k in ("fps", "wall_fps", "frames_out", "pairs", "latency_ms", "infer_ms",
                                             "dropped_ir", "dropped_vis", "skew_ms", "policy")},
              "ratio": p["fps"] / b["fps"], "wall_ratio": p["wall_fps"] / b["fps"],
              "repeats": {"backend_fps": [round(r["fps"], 3) for r in runs_b],
                          "pipeline_fps": [round(r["fps"], 3) for r in runs_p]}}
    write_results(args.results, result)
    print(f"backend {b['fps']:.2f} fps, pipeline {p['fps']:.2f} fps (wall {p['wall_fps']:.2f}), "
          f"ratio {result['ratio']:.3f} -> {args.results.with_suffix('.md')}")


if __name__ == "__main__":
    main()
