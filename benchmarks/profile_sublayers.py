"""Torch eager against ONNX Runtime, sub-layer by sub-layer, for one DTPF model at one size.

Usage: python benchmarks/profile_sublayers.py [--model dtpf_student] [--height 512] [--width 640] [--threads 2]
       [--onnx FILE] [--runs 2] [--out benchmarks/results/profile_sublayers_dtpf_student.md]

Finds where ONNX Runtime gains least over torch (the issue-5 target is ORT >= 2x torch for each student).
Torch time per sub-layer comes from forward hooks (wall time of the module call, one forward after a
warm-up); ORT time from ORT's own profiler (kernel time of the nodes whose scope names the sub-layer,
last of ``--runs`` runs after a warm-up). Sub-layers are grouped by kind (LayerNorm, MDTA = channel_attn,
OCAB = spatial_attn, GDFN) and by stage. Nodes ORT renames when it fuses them (Gelu, NCHWc reorders) keep
no scope and are listed as "fused by ORT"; the GDFN Gelu is among them.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

KINDS = {"norm1": "LayerNorm", "norm2": "LayerNorm", "norm3": "LayerNorm", "norm4": "LayerNorm",
         "channel_attn": "MDTA", "spatial_attn": "OCAB", "channel_ffn": "GDFN", "spatial_ffn": "GDFN",
         "spatial_a": "OCAB", "spatial_b": "OCAB", "channel_a": "MDTA", "channel_b": "MDTA"}


def stage_of(parts: list[str]) -> str:
    """'encoder L1', 'decoder1', 'fusion L1', ... from module path components (torch or ONNX scope).

    Torch names split as [encoder_vis, stages.0.0, norm1] or [fusions.0, spatial_attn]; ONNX scopes
    as [encoder_vis, stages.0, stages.0.0, norm1] or [decoder1, decoder1.0, norm1].
    """
    head = parts[0].split(".")
    if head[0].startswith("encoder_"):
        level = next((m.group(1) for p in parts[1:] if (m := re.match(r"stages\.(\d+)", p))), None)
        return f"encoder L{int(level) + 1}" if level is not None else "encoder"
    if head[0] == "fusions" and len(head) > 1:
        return f"fusion L{int(head[1]) + 1}"
    return head[0]


def key_of(parts: list[str]) -> tuple[str, str] | None:
    kind = next((KINDS[p] for p in parts if p in KINDS), None)
    return (stage_of(parts), kind) if kind else None


def torch_times(model: torch.nn.Module, vis: torch.Tensor, ir: torch.Tensor) -> tuple[dict, float]:
    times: collections.Counter = collections.Counter()
    started: dict[str, float] = {}
    handles = []
    for name, module in model.named_modules():
        parts = re.split(r"\.(?=[a-z_])", name)  # 'encoder_vis.stages.0.0.norm1' -> [encoder_vis, stages.0.0, norm1]
        if parts[-1] in KINDS:
            key = key_of(parts)
            handles.append(module.register_forward_pre_hook(
                lambda m, i, n=name: started.__setitem__(n, time.perf_counter())))
            handles.append(module.register_forward_hook(
                lambda m, i, o, n=name, k=key: times.__setitem__(k, times[k] + time.perf_counter() - started[n])))
    with torch.inference_mode():
        model(vis, ir)
        times.clear()
        t0 = time.perf_counter()
        model(vis, ir)
        total = time.perf_counter() - t0
    for h in handles:
        h.remove()
    return {k: v * 1000 for k, v in times.items()}, total * 1000


def ort_times(path: str, feeds: dict, threads: int, runs: int) -> tuple[dict, float, float]:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        sess.run(None, feeds)
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            walls.append(time.perf_counter() - t0)
        events = json.loads(Path(sess.end_profiling()).read_text())
    run_events = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    last = run_events[-1]
    times: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not last["ts"] <= e["ts"] <= last["ts"] + last["dur"]:
            continue
        parts = e["name"][: -len("_kernel_time")].strip("/").split("/")
        key = key_of(parts[:-1]) if len(parts) > 1 else None
        if key is None:
            key = ("fused by ORT", e["args"].get("op_name", "?")) if len(parts) == 1 else (stage_of(parts), "other")
        times[key] += e["dur"] / 1000
    return dict(times), sum(times.values()), walls[-1] * 1000


def main() -> None:
    import onnxruntime as ort

    from edgefuse.export import export_onnx, simplify_onnx
    from edgefuse.export.onnx import INPUT_NAMES
    from edgefuse.models.registry import create_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dtpf_student")
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--onnx", default=None, help="an export of the same model and size (default: export one)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    if getattr(model, "is_teacher", False):
        raise SystemExit("the teacher takes text; profile a student")
    h, w = args.height, args.width
    rng = np.random.default_rng(0)
    vis, ir = rng.random((1, 3, h, w), dtype=np.float32), rng.random((1, 1, h, w), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.onnx
        if path is None:
            path = str(Path(tmp) / f"{args.model}.onnx")
            export_onnx(model, path, h, w)
            simplify_onnx(path)
        feeds = dict(zip(INPUT_NAMES, (vis, ir)))
        ort_ms, ort_kernels, ort_wall = ort_times(path, feeds, args.threads, args.runs)
    torch_ms, torch_total = torch_times(model, torch.from_numpy(vis), torch.from_numpy(ir))

    by_kind_t: collections.Counter = collections.Counter()
    by_kind_o: collections.Counter = collections.Counter()
    for (stage, kind), ms in torch_ms.items():
        by_kind_t[kind] += ms
    for (stage, kind), ms in ort_ms.items():
        if kind not in set(KINDS.values()):
            kind = "fused by ORT" if stage == "fused by ORT" else "other"
        by_kind_o[kind] += ms
    by_kind_t["other"] = torch_total - sum(by_kind_t.values())
    lines = [f"# {args.model} at {h}x{w}: torch eager against ONNX Runtime per sub-layer", "",
             f"`python benchmarks/profile_sublayers.py --model {args.model} --height {h} --width {w} --threads "
             f"{args.threads} --runs {args.runs}` on {date.today()}, torch {torch.__version__}, onnxruntime "
             f"{ort.__version__}, {args.threads} threads. Torch: one hooked forward, {torch_total / 1000:.2f} s. ORT: "
             f"kernel time of the last run, {ort_kernels / 1000:.2f} s (wall {ort_wall / 1000:.2f} s). "
             "Ratio = torch / ORT; the target is >= 2. 'fused by ORT' are nodes ORT renamed (Gelu of the GDFNs, NCHWc "
             "reorders); 'other' is everything outside the four sub-layer kinds (embeddings, resamplers, fusion "
             "convolutions).", "", "## By kind", "", "| kind | torch ms | ORT ms | ratio |", "|---|---:|---:|---:|"]
    for kind in ("OCAB", "MDTA", "GDFN", "LayerNorm", "fused by ORT", "other"):
        t, o = by_kind_t.get(kind), by_kind_o.get(kind, 0.0)
        ratio = f"{t / o:.2f}" if t and o else ""
        lines.append(f"| {kind} | {t:.0f} | {o:.0f} | {ratio} |" if t else f"| {kind} | | {o:.0f} | |")
    total = f"Total: torch {torch_total:.0f} ms, ORT {ort_kernels:.0f} ms, ratio {torch_total / ort_kernels:.2f}."
    lines += ["", total,
              "", "## By stage and kind (largest ORT time first)", "", "| stage | kind | torch ms | ORT ms | ratio |",
              "|---|---|---:|---:|---:|"]
    for key, o in sorted(ort_ms.items(), key=lambda kv: -kv[1])[:30]:
        t = torch_ms.get(key)
        lines.append(f"| {key[0]} | {key[1]} | {'' if t is None else f'{t:.0f}'} | {o:.0f} | "
                     f"{'' if not t else f'{t / o:.2f}'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
