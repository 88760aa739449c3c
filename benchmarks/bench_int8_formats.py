"""Is INT8 faster than FP32 in ONNX Runtime on this CPU? Three INT8 formats of one student against FP32.

Usage: python benchmarks/bench_int8_formats.py [--onnx export/out/edge_nano_ivf/edge_nano_ivf.onnx]
       [--threads 2] [--repeats 30] [--out benchmarks/results/int8_formats]

The `edgefuse export` INT8 graph is made for TensorRT (Q/DQ on the inputs of each conv only,
outputs left in float, so TensorRT fuses each DQ-conv pair into an INT8 kernel). ONNX Runtime's CPU
provider can only run a conv in INT8 when its output is re-quantized too (QLinearConv). So this
script also times the two layouts ONNX Runtime's CPU provider fuses: Q/DQ with quantized outputs
(U8 activations, S8 per-channel weights) and the QOperator format, all calibrated (MinMax) on the
same msrs/train frames. It records the CPU's ISA flags, since INT8 speed on x86 depends on VNNI
(``avx512_vnni``/``avx_vnni``) or AMX. PSNR is of the 8-bit fused image against FP32 ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from edgefuse.hostinfo import cpu_info


def cpu_flags() -> dict[str, object]:
    info = cpu_info()
    return {"cpu": info["cpu"], **{f: info["flags"][f] for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")}}


def main() -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from edgefuse.export.calibration import CalibrationSet

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", default="export/out/edge_nano_ivf/edge_nano_ivf.onnx")
    ap.add_argument("--int8", default="export/out/edge_nano_ivf/edge_nano_ivf_int8.onnx",
                    help="The edgefuse export INT8 (TensorRT Q/DQ) graph of the same model.")
    ap.add_argument("--calib", default="../shared/data/msrs/train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--out", default="benchmarks/results/int8_formats")
    args = ap.parse_args()

    def session(path: str) -> ort.InferenceSession:
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.log_severity_level = 3
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    src = session(args.onnx)
    h, w = src.get_inputs()[0].shape[2:]
    calib = CalibrationSet.open(args.calib, 8)
    frames = calib.frames((h, w), 8, 0)
    test = calib.frames((h, w), 4, 1)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(frames)

        def get_next(self):  # noqa: ANN201 - ORT's interface
            return next(self.it, None)

    def median_ms(sess: ort.InferenceSession) -> float:
        feeds = test[0]
        for _ in range(3):
            sess.run(None, feeds)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    refs = [src.run(None, f)[0] for f in test]

    def psnr(sess: ort.InferenceSession) -> float:
        vals = []
        for f, r in zip(test, refs):
            a = np.round(np.clip(sess.run(None, f)[0], 0, 1) * 255)
            b = np.round(np.clip(r, 0, 1) * 255)
            mse = float(((a - b) ** 2).mean())
            vals.append(100.0 if mse == 0 else 10 * np.log10(255**2 / mse))
        return float(np.mean(vals))

    variants = {"FP32": args.onnx, "INT8 Q/DQ for TensorRT (edgefuse export)": args.int8}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt, act in (("INT8 Q/DQ, outputs quantized (ORT CPU layout)", QuantFormat.QDQ, QuantType.QUInt8),
                               ("INT8 QOperator (QLinearConv)", QuantFormat.QOperator, QuantType.QUInt8)):
            dst = str(Path(tmp) / f"{len(variants)}.onnx")
            quantize_static(args.onnx, dst, Reader(), quant_format=fmt, activation_type=act,
                            weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Conv"],
                            calibrate_method=CalibrationMethod.MinMax)
            variants[name] = dst
        # one session per variant, timed round-robin twice so a burst of load hits all of them
        sessions = {k: session(v) for k, v in variants.items()}
        runs: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(2):
            for k, s in sessions.items():
                runs[k].append(median_ms(s))
        rows = [{"variant": k, "ms": round(min(v), 1), "psnr_db": round(psnr(sessions[k]), 1)} for k, v in runs.items()]
    fp32 = rows[0]["ms"]
    flags = cpu_flags()
    lines = [f"# INT8 formats against FP32 in ONNX Runtime on this CPU ({h}x{w})", "",
             f"`python benchmarks/bench_int8_formats.py --threads {args.threads}` on {date.today()}, {flags['cpu']}, "
             f"onnxruntime {ort.__version__}, {args.threads} threads, batch 1; best of two medians of "
             f"{args.repeats} runs each, variants timed round-robin. ISA: "
             + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items() if k != "cpu") + ".", "",
             "| variant | ms | vs FP32 | PSNR vs FP32 (dB) |", "|---|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['ms']} | {fp32 / r['ms']:.2f}x | {r['psnr_db']} |" for r in rows]
    out = Path(args.out)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"cpu": flags, "size": [h, w], "rows": rows}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
