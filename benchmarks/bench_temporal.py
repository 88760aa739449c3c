"""Temporal stability of fused video: frame-to-frame luminance change against the inputs'.

Usage: python benchmarks/bench_temporal.py [--clips 0111_1716,0113_1714,0117_1620] [--frames 90]
       [--methods default,max,laplacian] [--results benchmarks/results/temporal_stability]

For each M3SVD clip pair (../shared/data/m3svd/video/{ir,vi}/<clip>.mp4) and method, the clips
are decoded frame by frame (paired by index), fused, and the mean absolute change of the
luminance between consecutive frames (0-255 levels) is measured for the fused video and both
inputs, per pixel (``ratio``: motion and detail flicker) and of the frame mean (``global_ratio``:
brightness flicker). A ratio is the fused change over the change of the more-changing input:
about 1 means the fusion adds no flicker of its own, well above 1 means it does. ``default`` is the shipped
student (ONNX Runtime through the cached export where installed, else torch).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgefuse.stream.methods import ClassicalBackend  # noqa: E402
from edgefuse.hostinfo import cpu_name

DATA = REPO.parent / "shared" / "data" / "m3svd" / "video"


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) if rgb.ndim == 3 else rgb.astype(np.float32)


def frames(clip: str, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    caps = [cv2.VideoCapture(str(DATA / side / f"{clip}.mp4")) for side in ("vi", "ir")]
    out = []
    try:
        while len(out) < n:
            ok_v, vis = caps[0].read()
            ok_i, ir = caps[1].read()
            if not (ok_v and ok_i):
                break
            vis = cv2.cvtColor(vis, cv2.COLOR_BGR2RGB)
            ir = cv2.cvtColor(ir, cv2.COLOR_BGR2GRAY)
            if ir.shape != vis.shape[:2]:
                ir = cv2.resize(ir, (vis.shape[1], vis.shape[0]), interpolation=cv2.INTER_AREA)
            out.append((vis, ir))
    finally:
        for c in caps:
            c.release()
    return out


def change(seq: list[np.ndarray]) -> float:
    """Mean per-pixel |Y_t - Y_t-1| (motion and detail flicker)."""
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(seq, seq[1:])]))


def global_change(seq: list[np.ndarray]) -> float:
    """Mean |mean(Y_t) - mean(Y_t-1)| (brightness flicker of the whole frame)."""
    m = [float(x.mean()) for x in seq]
    return float(np.mean(np.abs(np.diff(m))))


def backend(method: str):  # noqa: ANN201
    if method != "default":
        return ClassicalBackend(method)
    from edgefuse.runtime import open_backend
    from edgefuse.runtime_cache import cached_onnx

    onnx = cached_onnx()
    return open_backend(onnx=str(onnx), spin=False) if onnx else open_backend()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="0111_1716,0113_1714,0117_1620")
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--methods", default="default,max,laplacian")
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "temporal_stability"))
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} not found (the M3SVD clips)")
    rows = []
    for clip in args.clips.split(","):
        pairs = frames(clip, args.frames)
        vis_y = [luma(v) for v, _ in pairs]
        ir_y = [i.astype(np.float32) for _, i in pairs]
        vis_change, ir_change = change(vis_y), change(ir_y)
        in_global = max(global_change(vis_y), global_change(ir_y))
        for method in args.methods.split(","):
            with backend(method) as b:
                fused = [luma(b.fuse_u8(v, i)) for v, i in pairs]
                name = getattr(b, "name", method)
            fc = change(fused)
            rows.append({"clip": clip, "method": method, "backend": name, "frames": len(pairs),
                         "fused_change": round(fc, 4), "vis_change": round(vis_change, 4),
                         "ir_change": round(ir_change, 4), "ratio": round(fc / max(vis_change, ir_change), 4),
                         "global_ratio": round(global_change(fused) / max(in_global, 1e-9), 4)})
            print(json.dumps(rows[-1]), flush=True)
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": str(date.today()), "machine": cpu_name(),
            "python": platform.python_version(), "frames_per_clip": args.frames}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = ["# Temporal stability: frame-to-frame luminance change (0-255 levels)", "",
             f"`python benchmarks/bench_temporal.py --frames {args.frames}` on {meta['date']}; ratio = fused change / "
             "change of the more-changing input (1 = no flicker of its own).", "",
             "| clip | method | backend | frames | fused | visible | IR | ratio (per pixel) | ratio (frame mean) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['method']} | {r['backend']} | {r['frames']} | {r['fused_change']:.3f} | "
                     f"{r['vis_change']:.3f} | {r['ir_change']:.3f} | {r['ratio']:.3f} | {r['global_ratio']:.3f} |")
    by = {(r["clip"], r["method"]): r["ratio"] for r in rows}
    clips = args.clips.split(",")
    if all((c, "default") in by and (c, "laplacian") in by for c in clips):
        gby = {(r["clip"], r["method"]): r["global_ratio"] for r in rows}
        for label, d in (("per pixel", by), ("frame mean", gby)):
            lower = sum(d[(c, "default")] < d[(c, "laplacian")] for c in clips)
            lines += ["", f"{label}: default below laplacian on {lower} of {len(clips)} clips; default ratio "
                      f"{min(d[(c, 'default')] for c in clips):.2f}-{max(d[(c, 'default')] for c in clips):.2f}x."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
