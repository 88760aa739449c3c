"""The TensorRT backend: a ``.plan`` through the TensorRT 10/11 Python API.

Named I/O tensors (``get_tensor_name``/``get_tensor_mode``), ``set_input_shape`` for dynamic
profiles, ``set_tensor_address`` and ``execute_async_v3`` on a CUDA stream; device memory and
copies through cuda-python (desktop) or pycuda (what JetPack images often have). The plan is
checked against the TensorRT version and GPU recorded in its sidecar before it is deserialized
(``edgefuse.engines.guard``), so a foreign engine is refused with the rebuild command.

Sources: TensorRT Python API reference (ICudaEngine, IExecutionContext, TensorIOMode),
NVIDIA's "Migrating from TensorRT 8 to 10" notes on the removal of bindings in favour of
named tensors, cuda-python's runtime bindings documentation.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.backends.base import Backend, TensorSpec
from edgefuse.errors import BackendUnavailableError, DataError, EngineBuildError


class _CudaPython:
    """Device memory, copies and a stream through cuda-python's runtime bindings."""

    label = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        except ImportError:
            from cuda import cudart  # type: ignore[no-redef]  # older cuda-python
        self.rt = cudart
        self.stream = self._ok(cudart.cudaStreamCreate())

    def _ok(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise EngineBuildError(f"CUDA runtime call failed: {err}")
        return rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)

    def malloc(self, nbytes: int) -> int:
        return int(self._ok(self.rt.cudaMalloc(nbytes)))

    def free(self, ptr: int) -> None:
        self.rt.cudaFree(ptr)

    def htod(self, ptr: int, arr: np.ndarray) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._ok(self.rt.cudaMemcpyAsync(ptr, arr.ctypes.data, arr.nbytes, kind, self.stream))

    def dtoh(self, arr: np.ndarray, ptr: int) -> None:
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._ok(self.rt.cudaMemcpyAsync(arr.ctypes.data, ptr, arr.nbytes, kind, self.stream))

    def sync(self) -> None:
        self._ok(self.rt.cudaStreamSynchronize(self.stream))

    @property
    def handle(self) -> int:
        return int(self.stream)

    def used_mb(self) -> float:
        free, total = self._ok(self.rt.cudaMemGetInfo())
        return (total - free) / 2**20

    def close(self) -> None:
        self.rt.cudaStreamDestroy(self.stream)


class _PyCuda:
    """The same through pycuda (JetPack)."""

    label = "pycuda"

    def __init__(self) -> None:
        import pycuda.autoinit  # noqa: F401  (creates the context)
        import pycuda.driver as cuda

        self.cuda = cuda
        self.stream = cuda.Stream()
        self._allocs: dict[int, Any] = {}

    def malloc(self, nbytes: int) -> int:
        alloc = self.cuda.mem_alloc(nbytes)
        self._allocs[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        alloc = self._allocs.pop(ptr, None)
        if alloc is not None:
            alloc.free()

    def htod(self, ptr: int, arr: np.ndarray) -> None:
        self.cuda.memcpy_htod_async(ptr, arr, self.stream)

    def dtoh(self, arr: np.ndarray, ptr: int) -> None:
        self.cuda.memcpy_dtoh_async(arr, ptr, self.stream)

    def sync(self) -> None:
        self.stream.synchronize()

    @property
    def handle(self) -> int:
        return int(self.stream.handle)

    def used_mb(self) -> float:
        free, total = self.cuda.mem_get_info()
        return (total - free) / 2**20

    def close(self) -> None:
        pass


def cuda_api() -> Any:
    """cuda-python if importable, else pycuda; ``BackendUnavailableError`` naming both otherwise."""
    for factory in (_CudaPython, _PyCuda):
        try:
            return factory()
        except ImportError:
            continue
    raise BackendUnavailableError(
        "the TensorRT backend needs cuda-python (pip install 'edgefuse[trt]') or pycuda (JetPack) for device memory"
    )


class TrtBackend(Backend):
    """A TensorRT ``.plan`` (built by ``edgefuse build``/``export``; sidecar JSON beside it)."""

    name = "tensorrt"

    def __init__(self, plan: str | os.PathLike[str], device: str = "cuda") -> None:
        self.plan = Path(plan)
        if not self.plan.is_file():
            raise DataError(f"engine not found: {self.plan}")
        from edgefuse.engines.guard import read_sidecar

        self.sidecar = read_sidecar(self.plan)
        super().__init__(device, str(self.sidecar.get("precision", "fp16")))  # type: ignore[union-attr]
        rule = (self.sidecar or {}).get("size_rule") or {}
        self.size_multiple = int(rule.get("multiple", 1) or 1)
        self.engine: Any = None
        self.context: Any = None
        self.cuda: Any = None
        self._trt: Any = None
        self._specs: dict[str, TensorSpec] = {}
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (pointer, bytes)
        self.peak_device_mb = 0.0

    def _open(self) -> None:
        from edgefuse.engines._trt import import_tensorrt
        from edgefuse.engines.guard import load_engine

        self._trt = trt = import_tensorrt()
        self.cuda = cuda_api()
        self.engine = load_engine(self.plan)  # version/GPU guard, then deserialize
        self.context = self.engine.create_execution_context()
        for idx in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(idx)
            shape = tuple(d if d >= 0 else None for d in self.engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))).name
            self._specs[name] = TensorSpec(name, shape, dtype)
        missing = {"vis", "ir", "fused"} - set(self._specs)
        if missing:
            raise EngineBuildError(f"{self.plan} lacks tensors {sorted(missing)}; it is not an edgefuse engine")

    def _close(self) -> None:
        if self.cuda is not None:
            for ptr, _ in self._buffers.values():
                self.cuda.free(ptr)
            self.cuda.close()
        self._buffers.clear()
        self.context = self.engine = self.cuda = None

    @property
    def artefact(self) -> str | None:
        return str(self.plan)

    @property
    def input_specs(self) -> list[TensorSpec]:
        if self.engine is None:
            self.open()
        return [self._specs["vis"], self._specs["ir"]]

    @property
    def output_specs(self) -> list[TensorSpec]:
        if self.engine is None:
            self.open()
        return [self._specs["fused"]]

    def versions(self) -> dict[str, str]:
        return {"tensorrt": str(getattr(self._trt, "__version__", "")), "cuda_api": getattr(self.cuda, "label", "")}

    def _buffer(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                self.cuda.free(ptr)
            ptr = self.cuda.malloc(nbytes)
            self._buffers[name] = (ptr, nbytes)
            self.context.set_tensor_address(name, ptr)
        return ptr

    def _infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        host = {"vis": vis.astype(self._specs["vis"].dtype, copy=False),
                "ir": ir.astype(self._specs["ir"].dtype, copy=False)}
        for name, arr in host.items():
            if not self.context.set_input_shape(name, tuple(arr.shape)):
                raise EngineBuildError(f"{self.plan}: shape {arr.shape} of {name} is outside the engine's profiles")
        out_shape = tuple(self.context.get_tensor_shape("fused"))
        out = np.empty(out_shape, dtype=self._specs["fused"].dtype)
        ptrs = {name: self._buffer(name, arr.nbytes) for name, arr in host.items()}
        out_ptr = self._buffer("fused", out.nbytes)
        t1 = time.perf_counter()
        for name, arr in host.items():
            self.cuda.htod(ptrs[name], np.ascontiguousarray(arr))
        self.cuda.sync()
        t2 = time.perf_counter()
        if not self.context.execute_async_v3(self.cuda.handle):
            raise EngineBuildError(f"TensorRT execution of {self.plan} failed (see the TensorRT log)")
        self.cuda.sync()
        t3 = time.perf_counter()
        self.cuda.dtoh(out, out_ptr)
        self.cuda.sync()
        t4 = time.perf_counter()
        result = out.astype(np.float32, copy=False)
        t5 = time.perf_counter()
        self.peak_device_mb = max(self.peak_device_mb, self.cuda.used_mb())
        self.last_stages_ms = {"pre": (t1 - t0) * 1e3, "h2d": (t2 - t1) * 1e3, "compute": (t3 - t2) * 1e3,
                               "d2h": (t4 - t3) * 1e3, "post": (t5 - t4) * 1e3}
        return result
