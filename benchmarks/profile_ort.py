"""Where ONNX Runtime spends its time in one graph: kernel time per op type (ORT's own profiler).

Usage: python benchmarks/profile_ort.py export/out/dtpf_student_cpu/dtpf_student.onnx [--threads 2] [--runs 3]
       [--out benchmarks/results/profile_dtpf_student_ort.md]

Used to explain why dtpf_student gains little from ONNX Runtime over torch eager on the CPU
(benchmarks/results/bench_matrix.md): the table shows the op types by total kernel time.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from datetime import date
from pathlib import Path

import numpy as np


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.log_severity_level = 3
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        feeds = {}
        for inp in sess.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in inp.shape]
            feeds[inp.name] = np.random.default_rng(0).random(shape, dtype=np.float32)
        for _ in range(args.runs):
            sess.run(None, feeds)
        events = json.loads(Path(sess.end_profiling()).read_text())
    total_ms: collections.Counter[str] = collections.Counter()
    nodes: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e["args"].get("op_name", "?")
            total_ms[op] += e["dur"] / 1000.0
            nodes[op] += 1
    grand = sum(total_ms.values())
    shape = "x".join(str(d) for d in feeds[sess.get_inputs()[0].name].shape[2:])
    lines = [f"# ONNX Runtime kernel time by op type: {Path(args.onnx).name} ({shape})", "",
             f"`python benchmarks/profile_ort.py {args.onnx} --threads {args.threads} --runs {args.runs}` on {date.today()}, "
             f"onnxruntime {ort.__version__}, {args.threads} threads; ms per run (mean of {args.runs}), kernel time only.", "",
             "| op | ms per run | share | nodes |", "|---|---:|---:|---:|"]
    for op, ms in total_ms.most_common(args.top):
        lines.append(f"| {op} | {ms / args.runs:.1f} | {100 * ms / grand:.1f}% | {nodes[op] // args.runs} |")
    lines.append(f"| all | {grand / args.runs:.1f} | 100% | {sum(nodes.values()) // args.runs} |")
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
