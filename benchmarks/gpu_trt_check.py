"""One-shot TensorRT check on a GPU host: every TensorRT defect that needs a GPU, one line each.

    python benchmarks/gpu_trt_check.py [--calib DIR] [--work DIR] [--only NAME ...]
    python benchmarks/gpu_trt_check.py --dry-run       # lists the checks; works without TensorRT

Exports the default student and dtpf_student at small sizes (FP32, FP16, INT8 Q/DQ calibrated on
``--calib``, a *train* folder, or on synthetic pairs when none is given), builds TensorRT engines
from them, runs them through ``TrtBackend`` against ONNX Runtime FP32 and prints one line per
check: ``CHECK <name> OK|DEFECT|SKIP  <details>`` (SKIP: a prerequisite is missing here, e.g.
pycuda or a DLA). Exit code 1 when any check says DEFECT. Sized for well under 10 minutes on one
GPU. Uses the public API, plus ``trt_backend.CUDA_APIS`` to force pycuda for its check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SIZE = (64, 64)  # both models (DTPF needs multiples of 64)


@dataclass
class Check:
    name: str
    defect: str
    what: str
    run: Callable[[Any], tuple[str, str]]


class Rig:
    """Lazily exported artefacts and built engines, shared by the checks."""

    def __init__(self, work: Path, calib: str | None) -> None:
        self.work, self.calib = work, calib
        self.exports: dict[str, Any] = {}

    def calib_dir(self) -> str:
        if self.calib:
            return self.calib
        import cv2

        root = self.work / "synthetic" / "train"  # a train folder: never calibrate on a test split
        for sub in ("ir", "vi"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for i in range(8):
            base = cv2.GaussianBlur(rng.uniform(0, 255, (96, 128)).astype(np.float32), (0, 0), 3)
            cv2.imwrite(str(root / "ir" / f"p{i}.png"), base.astype(np.uint8))
            cv2.imwrite(str(root / "vi" / f"p{i}.png"), np.stack([base, 255 - base, base / 2], 2).astype(np.uint8))
        self.calib = str(root)
        return self.calib

    def export(self, model: str | None) -> Any:
        key = model or "default"
        if key not in self.exports:
            from edgefuse.export import ExportConfig, run_export

            out = self.work / key
            cfg = ExportConfig(model=model, height=SIZE[0], width=SIZE[1], precision="int8", calib=self.calib_dir(),
                               calib_samples=8, psnr_target=None, parity_pairs=1, out=str(out / "onnx"),
                               engine_dir=str(out / "engines"))
            self.exports[key] = run_export(cfg)
        return self.exports[key]

    def build(self, onnx: Path, precision: str, tag: str, **opts: Any) -> Path:
        from edgefuse.engines import EngineConfig, build_engine

        out = self.work / "plans" / f"{onnx.stem}_{precision}_{tag}.plan"
        return build_engine(onnx, EngineConfig(precision=precision, output=str(out), workspace_mb=1024, **opts))


def _feeds(h: int, w: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"vis": (rng.random((1, 3, h, w), dtype=np.float32) * scale),
            "ir": (rng.random((1, 1, h, w), dtype=np.float32) * scale)}


def _trt(plan: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    from edgefuse.runtime import open_backend

    with open_backend(engine=plan) as be:
        return be.infer(feeds["vis"], feeds["ir"])


def _ort(onnx: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """ONNX Runtime on the CPU through the runtime (an FP16 Q/DQ graph gets its Q/DQ fusions off there)."""
    from edgefuse.runtime import open_backend

    with open_backend(onnx=onnx) as be:
        return be.infer(feeds["vis"], feeds["ir"])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) * 255 - np.clip(b, 0, 1) * 255) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def _trt_version() -> tuple[int, int]:
    from edgefuse.engines import tensorrt_version
    from edgefuse.runtime.trt.trt_api import version_tuple

    return version_tuple(tensorrt_version() or "0.0")


def check_engines_vs_ort(rig: Rig) -> tuple[str, str]:
    """FP32/FP16/INT8 engines of both students through TrtBackend vs ORT FP32."""
    rows, bad = [], False
    for model in (None, "dtpf_student"):
        rep = rig.export(model)
        feeds = _feeds(*SIZE)
        ref = _ort(rep.artefacts["fp32"], feeds)
        for p, floor in (("fp32", 60.0), ("fp16", 40.0), ("int8", 25.0)):
            got = _trt(rig.build(rep.artefacts[p], p, "base"), feeds)
            db = _psnr(got, ref)
            bad |= not np.isfinite(got).all() or db < floor
            rows.append(f"{rep.name}/{p} {db:.1f}dB")
    return ("DEFECT" if bad else "OK"), ", ".join(rows)


def check_fp16_strong_vs_weak(rig: Rig) -> tuple[str, str]:
    """Strongly typed FP16 from _fp16.onnx vs weak FP16 flag on the FP32 graph, inputs scaled x8."""
    rep = rig.export("dtpf_student")
    feeds = _feeds(*SIZE, scale=8.0)
    ref = _ort(rep.artefacts["fp32"], feeds)
    strong = _psnr(_trt(rig.build(rep.artefacts["fp16"], "fp16", "strong", strongly_typed=True), feeds), ref)
    detail = f"strong {strong:.1f}dB"
    if _trt_version()[0] < 11:
        weak_out = _trt(rig.build(rep.artefacts["fp32"], "fp16", "weak", strongly_typed=False), feeds)
        detail += f", weak {_psnr(weak_out, ref):.1f}dB{'' if np.isfinite(weak_out).all() else ' (NaN)'}"
    return ("OK" if strong >= 35.0 else "DEFECT"), detail


def check_int8_matmul_axes(rig: Rig) -> tuple[str, str]:
    """dtpf_student INT8: weight axes are output-channel axes; the inspector shows the MatMuls in INT8."""
    import json

    from edgefuse.engines import inspect_file
    from edgefuse.export.int8 import weight_axes

    rep = rig.export("dtpf_student")
    rows = [r for r in weight_axes(rep.artefacts["int8"]) if r["op"] == "MatMul"]
    wrong = [r["node"] for r in rows if r["axis"] != r["output_axis"]]
    layers = inspect_file(rig.build(rep.artefacts["int8"], "int8", "inspect"))["layers"]
    text = [json.dumps(layer) for layer in layers]
    int8_mm = sum(1 for t in text if ("MatMul" in t or "MatrixMultiply" in t) and "Int8" in t)
    detail = f"{len(rows)} quantized MatMul weights, {len(wrong)} on a wrong axis; inspector: {int8_mm} INT8 MatMul layers"
    return ("OK" if rows and not wrong and int8_mm > 0 else "DEFECT"), detail


def check_int8_engine_psnr(rig: Rig) -> tuple[str, str]:
    """INT8 engines vs FP32 against ORT's PSNR for the graph each one runs.

    The default build (strongly typed from 10.12) parses the FP16 Q/DQ graph ``*_int8_fp16.onnx``,
    the graph the export's PSNR search scores; on TensorRT 10 the weakly typed build (INT8 + FP16
    flags, kept nodes pinned) is compared with the same FP16 Q/DQ score, and on every version the
    FP32-elsewhere build (``int8_high_precision="fp32"``) with ``*_int8.onnx``'s.
    """
    rep = rig.export(None)
    feeds = _feeds(*SIZE)
    ref = _ort(rep.artefacts["fp32"], feeds)
    ort16 = _psnr(_ort(rep.artefacts["int8_fp16"], feeds), ref)
    ort32 = _psnr(_ort(rep.artefacts["int8"], feeds), ref)
    builds = [("default", ort16, {}), ("fp32-elsewhere", ort32, {"int8_high_precision": "fp32"})]
    if _trt_version()[0] < 11:
        builds.append(("weak", ort16, {"strongly_typed": False}))
    rows, bad = [], False
    for tag, want, opts in builds:
        got = _psnr(_trt(rig.build(rep.artefacts["int8"], "int8", f"psnr_{tag}", **opts), feeds), ref)
        bad |= got < want - 1.0
        rows.append(f"{tag} engine {got:.1f}dB vs ORT {want:.1f}dB")
    return ("DEFECT" if bad else "OK"), ", ".join(rows)


def check_dtpf_dynamic_480x640(rig: Rig) -> tuple[str, str]:
    """A dynamic DTPF engine (profile from the ONNX sidecar) fuses a 480x640 frame, padded to 512x640."""
    from edgefuse.runtime import open_backend
    from edgefuse.runtime.sidecars import write_sidecar
    from edgefuse.export.onnx import export_onnx
    from edgefuse.models import create_model

    onnx = export_onnx(create_model("dtpf_student").eval(), rig.work / "dtpf_dyn.onnx", 0, 0,
                       dynamic=((256, 320), (512, 640), (512, 640)))
    write_sidecar(onnx, kind="onnx", precision="fp32", size_rule={"multiple": 64},
                  shapes={"min": [256, 320], "opt": [512, 640], "max": [512, 640]})
    plan = rig.build(onnx, "fp32", "dyn")
    rng = np.random.default_rng(5)
    vis, ir = rng.integers(0, 255, (480, 640, 3), np.uint8), rng.integers(0, 255, (480, 640), np.uint8)
    with open_backend(engine=plan) as be, open_backend(onnx=onnx) as ort_be:
        got = be.fuse_u8(vis, ir)
        want = ort_be.fuse_u8(vis, ir)
    diff = int(np.abs(got.astype(int) - want).max())
    return ("OK" if got.shape == (480, 640, 3) and diff <= 2 else "DEFECT"), f"max |diff| {diff} grey levels"


def check_hardware_compat(rig: Rig) -> tuple[str, str]:
    """The requested hardware-compatibility level is the one the engine carries."""
    import tensorrt as trt

    from edgefuse.runtime.trt.guard import deserialize

    level = "same_compute_capability" if _trt_version() >= (10, 9) else "ampere_plus"
    plan = rig.build(rig.export(None).artefacts["fp32"], "fp32", "hwc", hardware_compat=level)
    got = str(deserialize(plan).hardware_compatibility_level).split(".")[-1]
    want = getattr(trt.HardwareCompatibilityLevel, level.upper())
    ok = got == str(want).split(".")[-1] and np.isfinite(_trt(plan, _feeds(*SIZE))).all()
    return ("OK" if ok else "DEFECT"), f"asked {level}, engine says {got}"


def check_timing_cache(rig: Rig) -> tuple[str, str]:
    """A timing cache is written, read back, and a corrupted one stops the build before any file is written."""
    from edgefuse.errors import EngineBuildError

    onnx = rig.export(None).artefacts["fp32"]
    cache = rig.work / "t.cache"
    rig.build(onnx, "fp32", "tc1", timing_cache=str(cache))
    size = cache.stat().st_size
    rig.build(onnx, "fp32", "tc2", timing_cache=str(cache))
    cache.write_bytes(cache.read_bytes()[: size // 2] + bytes(256))
    try:
        rig.build(onnx, "fp32", "tc3", timing_cache=str(cache))
        outcome = "corrupted cache accepted"
        ok = False
    except EngineBuildError as e:
        plan = rig.work / "plans" / f"{onnx.stem}_fp32_tc3.plan"
        ok = not plan.exists()
        outcome = f"refused ({str(e)[:60]}...)"
    return ("OK" if ok and size > 0 else "DEFECT"), f"cache {size} B; corrupted: {outcome}"


def check_pycuda_thread(rig: Rig) -> tuple[str, str]:
    """pycuda path: open on the main thread, infer on a second one, same output as cuda-python's."""
    import importlib.util

    from edgefuse.runtime import open_backend
    from edgefuse.runtime.backends import trt_backend

    if importlib.util.find_spec("pycuda") is None:
        return "SKIP", "pycuda is not installed"
    plan = rig.build(rig.export(None).artefacts["fp32"], "fp32", "thread")
    feeds, out = _feeds(*SIZE), {}
    saved = trt_backend.CUDA_APIS
    trt_backend.CUDA_APIS = (trt_backend._PyCuda,)
    try:
        with open_backend(engine=plan) as be:
            t = threading.Thread(target=lambda: out.setdefault("y", be.infer(feeds["vis"], feeds["ir"])))
            t.start()
            t.join()
            label = be.versions()["cuda_api"]
    finally:
        trt_backend.CUDA_APIS = saved
    ok = "y" in out and np.abs(out["y"] - _trt(plan, feeds)).max() == 0
    return ("OK" if ok and label == "pycuda" else "DEFECT"), f"{label}, second thread {'ran' if 'y' in out else 'failed'}"


def check_cuda_apis(rig: Rig) -> tuple[str, str]:
    """Which GPU probes and CUDA APIs work here (a cuda-python driver error must fall back, not fail)."""
    from edgefuse.runtime.backends.trt_backend import cuda_api
    from edgefuse.engines import device

    seen = []
    for label, probe in device.PROBES:
        try:
            seen.append(f"{label}={'yes' if probe(0) else 'no'}")
        except Exception as e:  # noqa: BLE001 - reported
            seen.append(f"{label}={type(e).__name__}")
    api = cuda_api(0)
    seen.append(f"backend uses {api.label}")
    api.close()
    return "OK", ", ".join(seen)


def check_ort_tensorrt_ep(rig: Rig) -> tuple[str, str]:
    """ORT --device tensorrt runs on the TensorRT EP, or is refused naming what it got (never mislabelled)."""
    import onnxruntime as ort

    from edgefuse.runtime import open_backend
    from edgefuse.errors import BackendUnavailableError

    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        return "SKIP", f"this onnxruntime has no TensorRT EP ({', '.join(ort.get_available_providers())})"
    onnx = rig.export(None).artefacts["fp16"]
    feeds = _feeds(*SIZE)
    try:
        with open_backend(onnx=onnx, device="tensorrt") as be:
            got, providers = be.infer(feeds["vis"], feeds["ir"]), be.providers
    except BackendUnavailableError as e:
        return "OK", f"refused: {str(e)[:100]}"
    db = _psnr(got, _ort(rig.export(None).artefacts["fp32"], feeds))
    return ("OK" if providers[0] == "TensorrtExecutionProvider" and db > 40 else "DEFECT"), \
        f"providers {providers}, {db:.1f}dB vs FP32"


def check_device_and_memory(rig: Rig) -> tuple[str, str]:
    """--device cuda:0 is what the report says; peak device memory comes from the engine, not cudaMemGetInfo."""
    from edgefuse.runtime import open_backend

    plan = rig.build(rig.export(None).artefacts["fp32"], "fp32", "dev")
    feeds = _feeds(*SIZE)
    with open_backend(engine=plan, device="cuda:0") as be:
        for _ in range(20):
            be.infer(feeds["vis"], feeds["ir"])
        d, mb, stages = be.describe()["device"], be.peak_device_mb, be.last_stages_ms
    ok = d == "cuda:0" and mb > 0 and {"h2d", "compute", "d2h"} <= set(stages)
    return ("OK" if ok else "DEFECT"), f"device {d}, peak {mb:.1f} MiB, h2d {stages.get('h2d', 0):.3f} ms"


def check_dla(rig: Rig) -> tuple[str, str]:
    """DLA: a dynamic profile is refused; where there is a DLA, a static FP16 engine builds and runs."""
    import tensorrt as trt

    from edgefuse.engines import EngineConfig, plan_build, tensorrt_version
    from edgefuse.engines.plan import GraphPrecision
    from edgefuse.errors import ConfigError

    rep = rig.export(None)
    graph = GraphPrecision(False, True, (("vis", (1, 3, -1, -1)), ("ir", (1, 1, -1, -1))))
    try:
        plan_build(EngineConfig(precision="fp16", dla_core=0, profile="256x320:480x640:720x1280"), graph,
                   tensorrt_version() or "10.3")
        refused = False
    except ConfigError as e:
        refused = "min = opt = max" in str(e) or "no DLA support" in str(e)
    if trt.Builder(trt.Logger(trt.Logger.WARNING)).num_DLA_cores == 0:
        return ("OK" if refused else "DEFECT"), "dynamic profile refused; no DLA on this device"
    out = _trt(rig.build(rep.artefacts["fp16"], "fp16", "dla", dla_core=0), _feeds(*SIZE))
    return ("OK" if refused and np.isfinite(out).all() else "DEFECT"), "dynamic refused; static DLA FP16 ran"


CHECKS = [
    Check("engines_vs_ort", "11", "FP32/FP16/INT8 engines of both students via TrtBackend vs ORT FP32", check_engines_vs_ort),
    Check("fp16_strong_vs_weak", "6", "strong FP16 from _fp16.onnx vs weak flag FP16, inputs x8", check_fp16_strong_vs_weak),
    Check("int8_matmul_axes", "7", "dtpf INT8: MatMul weight axes + inspector's INT8 MatMul count", check_int8_matmul_axes),
    Check("int8_engine_psnr", "10", "INT8 engines (default from _int8_fp16.onnx, weak on 10, FP32-elsewhere) vs ORT's "
          "PSNR for the graph each runs", check_int8_engine_psnr),
    Check("dtpf_dynamic_480x640", "1", "dynamic DTPF engine, sidecar profile + size rule, 480x640", check_dtpf_dynamic_480x640),
    Check("hardware_compat", "8", "same_compute_capability (>=10.9) / ampere_plus carried by the engine",
          check_hardware_compat),
    Check("timing_cache", "5", "cache written, reused; a corrupted cache refused before writing", check_timing_cache),
    Check("pycuda_second_thread", "2", "pycuda primary context, inference from a second thread", check_pycuda_thread),
    Check("cuda_apis", "3,4", "GPU probes (torch/cuda-python/pycuda) and the CUDA API the backend takes",
          check_cuda_apis),
    Check("ort_tensorrt_ep", "9", "ORT TensorRT EP: providers taken, or refused; never mislabelled", check_ort_tensorrt_ep),
    Check("device_and_memory", "13,15", "--device cuda:0 reported; engine-based peak memory; stages", check_device_and_memory),
    Check("dla", "14", "DLA: dynamic profile refused; static DLA engine where a DLA exists", check_dla),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="list the checks and exit")
    ap.add_argument("--calib", help="calibration folder (a train split: ir/ + vi/); default: synthetic pairs")
    ap.add_argument("--work", help="working folder (default: a temporary one)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these checks")
    args = ap.parse_args(argv)
    chosen = [c for c in CHECKS if args.only is None or c.name in args.only]
    if args.dry_run:
        for c in chosen:
            print(f"{c.name:<22} defect {c.defect:<6} {c.what}")
        return 0
    from edgefuse.engines import tensorrt_version

    if tensorrt_version() is None:
        print("TensorRT is not installed here: run this on the GPU host (or pass --dry-run)", file=sys.stderr)
        return 3
    work = Path(args.work or tempfile.mkdtemp(prefix="edgefuse_trt_check_"))
    rig, failed = Rig(work, args.calib), 0
    print(f"TensorRT {tensorrt_version()}, work folder {work}")
    for c in chosen:
        t0 = time.perf_counter()
        try:
            status, detail = c.run(rig)
        except Exception as e:  # noqa: BLE001 - a crash is a defect of that check, the others still run
            status, detail = "DEFECT", f"{type(e).__name__}: {str(e)[:200]}"
        failed += status == "DEFECT"
        print(f"CHECK {c.name} {status}  {detail}  [{time.perf_counter() - t0:.0f}s]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
