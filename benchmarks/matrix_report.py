"""CSV, markdown (targets, ratios, what limits the DTPF student) and the quality-vs-latency plot of
``bench_matrix.py``. The plot is drawn with OpenCV (already a dependency) rather than matplotlib."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

BACKEND_NAMES = {("torch", "fp32"): "torch FP32", ("ort", "fp32"): "ORT FP32", ("ort", "int8"): "ORT INT8 Q/DQ"}
COLOURS = {"torch FP32": (40, 40, 200), "ORT FP32": (200, 120, 30), "ORT INT8 Q/DQ": (40, 160, 40),
           "classical": (120, 120, 120)}  # BGR
PLOT_METRIC = "VIF"
# matrix model -> entry of comparison_msrs_test.json with the same weights (edge_nano_ivf = runs/edge_nano_kd)
QUALITY = {"edge_nano": "nano_kd"}


def _p50(cells: list[Any], model: str, backend: str, precision: str, label: str) -> float | None:
    for c in cells:
        if (c.model, c.backend, c.precision, c.size_label) == (model, backend, precision, label) and c.result:
            return float(c.result["latency_ms"]["p50"])
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fmt(x: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "n/a (cell not run)" if x is None else f"{x:{spec}}{suffix}"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" — **met**" if ok else " — **not met**")


def rows(cells: list[Any], extra: dict[str, Any], quality: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for c in cells:
        r, lat = c.result, c.result["latency_ms"]
        q = quality.get(QUALITY.get(c.model, ""), {}) if c.extra["weights"].startswith("trained") else {}
        out.append({
            "model": c.model, "weights": c.extra["weights"], "backend": BACKEND_NAMES[(c.backend, c.precision)],
            "size": c.size_label, "input": f"{c.size[0]}x{c.size[1]}", "computed": c.extra["computed"],
            "threads": r["threads"], "warmup": r["warmup"], "iters": r["iters"],
            **{f"{k}_ms": round(lat[k], 2) for k in ("p50", "p90", "p99", "mean", "std", "min", "max")},
            "fps": round(r["throughput_fps"], 3), "peak_rss_mb": round(r["peak_rss_mb"], 1),
            "gflops": round(extra["flops"].get(c.model, {}).get(c.size_label, float("nan")), 2),
            "int8_psnr_db": "" if c.extra.get("int8_psnr_db") is None else round(c.extra["int8_psnr_db"], 2),
            "VIF": round(q["VIF"], 4) if q else "", "Qabf": round(q["Qabf"], 4) if q else "",
            "warnings": " | ".join(r["warnings"]),
        })
    return out


def targets(cells: list[Any], extra: dict[str, Any]) -> list[str]:
    big, small = "480x640", "256x256"
    lines = ["## Targets (ratios from this run)", ""]
    for m in ("edge_nano", "edge_small", "dtpf_student"):
        s = _ratio(_p50(cells, m, "torch", "fp32", big), _p50(cells, m, "ort", "fp32", big))
        lines.append(f"- {m} at {big}: ONNX Runtime FP32 is {_fmt(s, '.2f', 'x')} faster than torch eager "
                     f"(target >= 2x){_verdict(None if s is None else s >= 2)}")
    for b, name in (("torch", "torch"), ("ort", "ONNX Runtime FP32")):
        r = _ratio(_p50(cells, "dtpf_student", b, "fp32", small), _p50(cells, "dtpf_teacher", b, "fp32", small))
        lines.append(f"- dtpf_student / dtpf_teacher time at {small}, {name}: {_fmt(r, '.1%')} "
                     "(paper: about 10%)")
    flops = extra["flops"]
    if "dtpf_student" in flops and "dtpf_teacher" in flops:
        lines.append(f"- FLOP ratio dtpf_student / dtpf_teacher at {small}: "
                     f"{flops['dtpf_student'][small] / flops['dtpf_teacher'][small]:.1%}")
    for m in ("edge_nano", "edge_small"):
        for b, name in (("ort", "ONNX Runtime FP32"), ("torch", "torch")):
            s = _ratio(_p50(cells, "dtpf_student", b, "fp32", big), _p50(cells, m, b, "fp32", big))
            lines.append(f"- {m} vs dtpf_student at {big}, {name}: {_fmt(s, '.0f', 'x')} faster "
                         f"(target >= 10x){_verdict(None if s is None else s >= 10)}")
        p = _p50(cells, m, "ort", "fp32", big)
        fps = 1000 / p if p else None
        lines.append(f"- {m} at {big}, ONNX Runtime FP32: {_fmt(fps, '.1f', ' FPS')} on {extra['threads']} threads "
                     f"(target >= 20 FPS){_verdict(None if fps is None else fps >= 20)}")
        q = _ratio(p, _p50(cells, m, "ort", "int8", big))
        lines.append(f"- {m} at {big}: INT8 Q/DQ is {_fmt(q, '.2f', 'x')} the speed of FP32 (target > 1x; this "
                     f"CPU: {extra['vnni']}){_verdict(None if q is None else q > 1)}")
    return lines


def limits(cells: list[Any], extra: dict[str, Any]) -> list[str]:
    small = "256x256"
    flops, share = extra["flops"], extra["dense_share"]
    ts, tt = _p50(cells, "dtpf_student", "torch", "fp32", small), _p50(cells, "dtpf_teacher", "torch", "fp32", small)
    if not (ts and tt and "dtpf_student" in flops and "dtpf_teacher" in flops):
        return ["## What limits dtpf_student against dtpf_teacher", "", "Needs the torch cells of both at 256x256."]
    fs, ft = flops["dtpf_student"][small], flops["dtpf_teacher"][small]
    gs, gt = fs / (ts / 1000), ft / (tt / 1000)
    os_, ot = _p50(cells, "dtpf_student", "ort", "fp32", small), _p50(cells, "dtpf_teacher", "ort", "fp32", small)
    ort_txt = f" ({os_ / ot:.1%} with ONNX Runtime)" if os_ and ot else ""
    text = (f"The student does {fs / ft:.1%} of the teacher's FLOPs at {small} ({fs:.1f} vs {ft:.1f} GFLOPs) but takes "
            f"{ts / tt:.1%} of its time with torch{ort_txt}: it computes at {gs:.1f} GFLOP/s, the teacher at "
            f"{gt:.1f} GFLOP/s. ")
    if share:
        ds, dt = share["dtpf_student"], share["dtpf_teacher"]
        text += (f"Convolutions and matrix products take {ds:.0%} of the student's torch time and {dt:.0%} of the "
                 f"teacher's (one profiled forward), so those dense ops run at {fs / (ts / 1000 * ds):.1f} GFLOP/s in "
                 f"the student against {ft / (tt / 1000 * dt):.1f} GFLOP/s in the teacher. ")
        if ds < dt - 0.05:
            text += ("The student also spends a larger share outside them: LayerNorm, softmax, window "
                     "partition/merge and copies cost in proportion to activations x layers, not channels squared. ")
    slower = ts / tt > fs / ft
    text += ("The student keeps the teacher's depth, 8x8 windows and head layout with a third of the channels (16 vs "
             "48), so its attention and 1x1/3x3 convolutions work on small matrices (16-wide heads, channel attention "
             "over 16-128 channels) that fill the vector units and caches poorly and pay per-op overhead that does not "
             "shrink with the channel count; " + ("that is why the time ratio stays above the FLOP ratio."
                                                   if slower else "here the time ratio is at or below the FLOP ratio."))
    return ["## What limits dtpf_student against dtpf_teacher", "", text]


def write_csv(out: Path, table: list[dict[str, Any]]) -> None:
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)


def write_md(out: Path, cells: list[Any], table: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    head = ["model", "weights", "backend", "size", "computed", "iters", "p50_ms", "p90_ms", "p99_ms", "std_ms",
            "fps", "gflops", "int8_psnr_db", "VIF", "Qabf"]
    quick = " **Quick run (tiny sizes, 2 iterations): proves the script, not the numbers.**" if extra["quick"] else ""
    lines = [f"# CPU benchmark matrix{' (quick)' if extra['quick'] else ''}", "",
             f"`{extra['command']}` on {date.today()}, {extra['cpu']} ({extra['vnni']}), {extra['threads']} threads, "
             f"torch {torch.__version__}, batch 1, {extra['minutes']:.1f} min.{quick} Latency = host wall time of one "
             "`Backend.infer` (edgefuse.bench). DTPF pads to multiples of 64 (480x640 computes 512x640); its weights "
             "are random (timing only), as are edge_small's (none trained yet). INT8 = Q/DQ S8S8 from "
             "`edgefuse.export.quantize_int8` calibrated on msrs/train; `int8_psnr_db` = INT8 vs FP32 graph on two "
             "held-out calibration-folder views. VIF/Qabf: `edgefuse eval` on msrs/test "
             "(comparison_msrs_test.json) of the trained FP32 weights, repeated on their ONNX rows (INT8: see its "
             "PSNR vs FP32). `peak_rss_mb` in the CSV is the process peak so far.",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in table]
    if extra["classical_ms"]:
        lines += ["", "Classical baselines at the 480x640 role (numpy/OpenCV, p50 ms): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in extra["classical_ms"].items())]
    few = [r for r in table if r["warnings"].startswith("only ")]
    warned = [f"- {r['model']} {r['backend']} {r['size']}: {r['warnings']}" for r in table
              if r["warnings"] and r not in few]
    if few:
        names = ", ".join(f"{r['model']} {r['backend']} {r['size']}" for r in few)
        warned.append(f"- {len(few)} cell(s) timed fewer than 5 iterations (DTPF by design in a full run, every "
                      f"cell with --quick), so their p90/p99 are rough: {names}")
    lines += ["", *targets(cells, extra), "", *limits(cells, extra), "",
              f"![quality vs latency]({out.name}.png)", ""]
    if warned:
        lines += ["## Warnings", "", *warned, ""]
    out.with_suffix(".md").write_text("\n".join(lines))


def plot(out: Path, table: list[dict[str, Any]], extra: dict[str, Any], quality: dict[str, dict[str, float]]) -> None:
    """Quality (VIF on msrs/test) against p50 latency at the 480x640 role, log-x; untrained models as ticks."""
    pts = [(r["p50_ms"], float(r["VIF"]), f"{r['model']} {r['backend']}", r["backend"])
           for r in table if r["size"] == "480x640" and r["VIF"] != ""]
    pts += [(ms, quality[k][PLOT_METRIC], k, "classical") for k, ms in extra["classical_ms"].items() if k in quality]
    ticks = [(r["p50_ms"], f"{r['model']} {r['backend']}", r["backend"])
             for r in table if r["size"] == "480x640" and r["VIF"] == ""]
    xs = [p[0] for p in pts] + [t[0] for t in ticks] or [1.0]
    ys = [p[1] for p in pts] or [0.0, 1.0]
    W, H, L, R, T, B = 1000, 640, 80, 30, 50, 170
    img = np.full((H, W, 3), 255, np.uint8)
    lx0, lx1 = math.floor(math.log10(max(min(xs), 1e-3))), math.ceil(math.log10(max(xs) * 1.01))
    lx1 = max(lx1, lx0 + 1)
    y0, y1 = min(ys) - 0.05, max(ys) + 0.05
    X = lambda ms: int(L + (math.log10(max(ms, 1e-3)) - lx0) / (lx1 - lx0) * (W - L - R))  # noqa: E731
    Y = lambda v: int(H - B - (v - y0) / (y1 - y0) * (H - T - B))  # noqa: E731
    cv2.rectangle(img, (L, T), (W - R, H - B), (0, 0, 0), 1)
    for d in range(lx0, lx1 + 1):
        cv2.line(img, (X(10**d), H - B), (X(10**d), H - B + 5), (0, 0, 0), 1)
        at = (min(X(10**d) - 20, W - 80), H - B + 20)
        cv2.putText(img, f"{10**d:g} ms", at, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for v in np.linspace(y0, y1, 5):
        cv2.putText(img, f"{v:.2f}", (L - 45, Y(v) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    title = f"{PLOT_METRIC} on msrs/test vs p50 latency at 480x640, {extra['threads']} CPU threads (up-left is better)"
    cv2.putText(img, title, (L, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    for i, (ms, v, label, kind) in enumerate(pts):
        cv2.circle(img, (X(ms), Y(v)), 6, COLOURS.get(kind, (0, 0, 0)), -1)
        cv2.putText(img, label, (X(ms) + 8, Y(v) - 6 + 12 * (i % 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, "no quality numbers (random weights): latency only", (L, H - B + 45),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for i, (ms, label, kind) in enumerate(sorted(ticks)):
        y = H - B + 65 + 14 * (i % 7)
        cv2.line(img, (X(ms), H - B), (X(ms), y - 4), COLOURS.get(kind, (0, 0, 0)), 1)
        cv2.putText(img, label, (X(ms) + 3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.35, COLOURS.get(kind, (0, 0, 0)), 1)
    cv2.imwrite(str(out.with_suffix(".png")), img)


def write_outputs(out: Path, cells: list[Any], extra: dict[str, Any], quality: dict[str, dict[str, float]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    done = [c for c in cells if c.result]
    table = rows(done, extra, quality)
    write_csv(out, table)
    write_md(out, done, table, extra)
    plot(out, table, extra, quality)
