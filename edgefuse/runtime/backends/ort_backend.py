"""The ONNX Runtime backend: CPU, CUDA and TensorRT execution providers, IO binding on the GPU.

ONNX Runtime quietly drops a requested provider it cannot load (a TensorRT EP without libnvinfer,
a CUDA EP without the right cuDNN) and runs the graph on the next one, so the providers the
session actually took are checked after it is created: ``--device tensorrt`` either runs on the
TensorRT EP or fails saying what it got. The TensorRT EP gets the artefact's precision (FP16 for
an FP16 graph, INT8 + FP16 for a Q/DQ graph) and an engine and timing cache next to the ONNX file
(options: onnxruntime docs, ``execution-providers/TensorRT-ExecutionProvider``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.runtime.backends.base import Backend, TensorSpec
from edgefuse.errors import BackendUnavailableError, ConfigError, DataError
from edgefuse.runtime.sidecars import sidecar_value

# device flag -> execution providers in priority order (the CPU provider is always the fallback)
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def onnx_precision(path: str | os.PathLike[str]) -> str:
    """``fp32``/``fp16``/``int8`` from the artefact's sidecar, else from the graph itself."""
    p = sidecar_value(path, "precision")
    if p in ("fp32", "fp16", "int8"):
        return str(p)
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        raise DataError(f"{path} is not a loadable ONNX model ({type(e).__name__}: {str(e)[:200]})") from e
    ops = {n.op_type for n in model.graph.node}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        return "int8"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return "fp16"
    return "fp32"


def provider_options(device: str, precision: str, cache_dir: str | os.PathLike[str]) -> list[tuple[str, dict[str, str]]]:
    """The ``providers=`` list for ``device``: (name, options) pairs, most preferred first."""
    if device not in PROVIDERS:
        raise ConfigError(f"onnxruntime device must be one of {', '.join(PROVIDERS)}; got {device!r}")
    options: dict[str, dict[str, str]] = {
        "TensorrtExecutionProvider": {
            "trt_fp16_enable": str(precision in ("fp16", "int8")),
            "trt_int8_enable": str(precision == "int8"),  # explicit Q/DQ: no calibration table
            "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache_dir),
            "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(cache_dir),
        },
        "CUDAExecutionProvider": {"device_id": "0"},
    }
    return [(p, options.get(p, {})) for p in PROVIDERS[device]]


def check_providers(device: str, taken: list[str]) -> None:
    """Refuse a session that does not run on the provider ``device`` asked for.

    Raises:
        BackendUnavailableError: ONNX Runtime fell back (e.g. to CUDA or CPU for ``tensorrt``).
    """
    wanted = PROVIDERS[device][0]
    if not taken or taken[0] != wanted:
        raise BackendUnavailableError(
            f"ONNX Runtime did not take {wanted} for --device {device}: the session runs on "
            f"{', '.join(taken) or 'nothing'} (the provider's libraries failed to load; see the ONNX Runtime log). "
            f"Install what {wanted} needs (TensorRT/CUDA libraries matching onnxruntime-gpu), or pass the device it "
            "really runs on"
        )


def _size_multiple(path: str | os.PathLike[str]) -> int:
    try:
        return int(sidecar_value(path, "size_rule", "multiple", default=1) or 1)
    except (TypeError, ValueError):
        return 1


def _fp16_qdq(path: str | os.PathLike[str]) -> bool:
    """Whether the sidecar says this is an FP16 Q/DQ graph (``*_int8_fp16.onnx``: FP16 outside the Q/DQ pairs)."""
    return sidecar_value(path, "int8", "high_precision") == "fp16"


class OrtBackend(Backend):
    """An ONNX file in ONNX Runtime.

    Args:
        path: The ``.onnx`` file (inputs ``vis``, ``ir``; output ``fused``).
        device: ``cpu``, ``cuda`` (CUDA EP) or ``tensorrt`` (TensorRT EP, CUDA and CPU fallback).
        threads: Intra-op threads (0 = ONNX Runtime's default, one per core).
        spin: Let idle intra-op threads busy-wait for work (ONNX Runtime's default). Turn it off
            when other threads share the cores (the stream pipeline's capture and sink threads):
            spinning threads then take CPU time from them.
    """

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int = 0, spin: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"ONNX file not found: {self.path}")
        if device not in PROVIDERS:
            raise ConfigError(f"onnxruntime device must be one of {', '.join(PROVIDERS)}; got {device!r}")
        super().__init__(device, onnx_precision(self.path))
        self.threads = threads
        self.spin = spin
        self.size_multiple = _size_multiple(self.path)
        self.session: Any = None
        self._ort: Any = None
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        self._file_specs: tuple[list[TensorSpec], list[TensorSpec]] | None = None

    def _open(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailableError("onnxruntime is not installed: pip install 'edgefuse[ort]'") from e
        self._ort = ort
        wanted = PROVIDERS[self.device]
        have = set(ort.get_available_providers())
        if wanted[0] not in have:
            raise BackendUnavailableError(
                f"{wanted[0]} is not in this onnxruntime build (it has {', '.join(sorted(have))}); "
                "install onnxruntime-gpu for cuda/tensorrt, or use --device cpu"
            )
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if self.threads:
            so.intra_op_num_threads = self.threads
        if not self.spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if _fp16_qdq(self.path):  # ORT's CPU Q/DQ fusions (QLinearConv, QLinearConcat) take FP32 scales only
            so.add_session_config_entry("session.disable_quant_qdq", "1")
        cache = self.path.parent / "ort_trt_cache"
        if self.device == "tensorrt":
            cache.mkdir(exist_ok=True)
        providers = [p for p in provider_options(self.device, self.precision, cache) if p[0] in have]
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/InvalidProtobuf types
            raise DataError(f"{self.path} is not a loadable ONNX model ({type(e).__name__}: {str(e)[:300]})") from e
        check_providers(self.device, list(self.session.get_providers()))
        names = [i.name for i in self.session.get_inputs()]
        if sorted(names) != ["ir", "vis"] or [o.name for o in self.session.get_outputs()][:1] != ["fused"]:
            raise DataError(f"{self.path} has inputs {names} and outputs "
                            f"{[o.name for o in self.session.get_outputs()]}; an edgefuse graph takes vis, ir "
                            "and returns fused (export it with edgefuse export)")
        self._inputs = [_spec(i) for i in sorted(self.session.get_inputs(), key=lambda i: i.name != "vis")]
        self._outputs = [_spec(o) for o in self.session.get_outputs()]

    def _close(self) -> None:
        self.session = None

    @property
    def artefact(self) -> str | None:
        return str(self.path)

    @property
    def input_specs(self) -> list[TensorSpec]:
        """The graph's inputs: from the session once open, else read from the file (no session is created)."""
        if self.session is None:
            return self._graph_specs()[0]
        return self._inputs

    @property
    def output_specs(self) -> list[TensorSpec]:
        if self.session is None:
            return self._graph_specs()[1]
        return self._outputs

    def _graph_specs(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        if self._file_specs is None:
            import onnx

            try:
                graph = onnx.load(str(self.path), load_external_data=False).graph
            except Exception as e:  # protobuf DecodeError and friends
                raise DataError(f"{self.path} is not a loadable ONNX model ({type(e).__name__}: {str(e)[:200]})") from e

            def spec(vi: Any) -> TensorSpec:
                dims = tuple(d.dim_value if d.dim_value > 0 else None for d in vi.type.tensor_type.shape.dim)
                dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name
                return TensorSpec(vi.name, dims, dtype)

            inputs = sorted((spec(i) for i in graph.input), key=lambda t: t.name != "vis")
            self._file_specs = (inputs, [spec(o) for o in graph.output])
        return self._file_specs

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers()) if self.session is not None else []

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__, "providers": ",".join(self.providers)}

    def _infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        if self.device == "cpu":
            out = self.session.run(["fused"], {"vis": vis, "ir": ir})[0]
            self.last_stages_ms = {"compute": (time.perf_counter() - t0) * 1000.0}
            return out
        # GPU: bind inputs (copied once to the device), keep the output on the device, copy it back
        binding = self.session.io_binding()
        binding.bind_cpu_input("vis", vis)
        binding.bind_cpu_input("ir", ir)
        binding.bind_output("fused", "cuda")
        t1 = time.perf_counter()
        self.session.run_with_iobinding(binding)
        t2 = time.perf_counter()
        out = binding.copy_outputs_to_cpu()[0]
        t3 = time.perf_counter()
        self.last_stages_ms = {"pre": (t1 - t0) * 1000.0, "compute": (t2 - t1) * 1000.0, "d2h": (t3 - t2) * 1000.0}
        return out


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    dtype = {"tensor(float)": "float32", "tensor(float16)": "float16"}.get(arg.type, arg.type)
    return TensorSpec(arg.name, shape, dtype)
