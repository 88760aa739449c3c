"""The TensorRT backend: a ``.plan`` through the TensorRT 10/11 Python API.

Named I/O tensors (``get_tensor_name``), ``set_input_shape`` for dynamic profiles,
``set_tensor_address`` and ``execute_async_v3`` on a CUDA stream. Device memory, pinned
(page-locked) host buffers and copies go through cuda-python (desktop) or pycuda (what JetPack
images often have). The plan is checked against the TensorRT version and GPU recorded in its
sidecar before it is deserialized (``edgefuse.runtime.trt.guard``); the sidecar's size rule
(``size_rule.multiple``) tells ``fuse_u8`` how to pad frames for the engine.

Threads: the CUDA runtime (cuda-python, and TensorRT itself) works in the device's *primary*
context, and ``cudaSetDevice`` is per thread, so every call that touches the GPU runs inside
``active()``: cuda-python selects the device on the calling thread; pycuda pushes the retained
primary context and pops it afterwards (``pycuda.autoinit`` would make a private context current
on the opening thread only, and a stream thread would then fail with "invalid device context").

Sources: TensorRT Python bindings (NVIDIA/TensorRT ``python/src/infer/pyCore.cpp``: ICudaEngine,
IExecutionContext); cuda-python's ``cuda.bindings.runtime`` (cudaSetDevice, cudaMallocHost,
cudaMemcpyAsync); pycuda's driver API (``Device.retain_primary_context``, ``Context.push/pop``,
``pagelocked_empty``); CUDA's driver compatibility table (cuda-python 13.x needs driver >= 580).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.runtime.backends.base import Backend, TensorSpec
from edgefuse.errors import BackendUnavailableError, ConfigError, DataError, EngineBuildError


class _CudaPython:
    """Device memory, pinned host memory, copies and a stream through cuda-python's runtime bindings."""

    label = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        except ImportError:
            from cuda import cudart  # type: ignore[no-redef]  # older cuda-python
        self.rt = cudart
        self.device = device
        self._ok(cudart.cudaSetDevice(device))  # a driver too old for this cuda-python fails here
        self.stream = self._ok(cudart.cudaStreamCreate())

    def _ok(self, result: Any) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise EngineBuildError(f"CUDA runtime call failed: {err}")
        return rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._ok(self.rt.cudaSetDevice(self.device))  # per thread; the primary context comes with it
        yield

    def malloc(self, nbytes: int) -> int:
        return int(self._ok(self.rt.cudaMalloc(nbytes)))

    def free(self, ptr: int) -> None:
        self.rt.cudaFree(ptr)

    def host(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        ptr = int(self._ok(self.rt.cudaMallocHost(nbytes)))
        buf = (ctypes.c_byte * nbytes).from_address(ptr)
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def free_host(self, arr: np.ndarray) -> None:
        self.rt.cudaFreeHost(arr.ctypes.data)

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

    def close(self) -> None:
        self.rt.cudaStreamDestroy(self.stream)


class _PyCuda:
    """The same through pycuda (JetPack), in the device's retained primary context."""

    label = "pycuda"

    def __init__(self, device: int = 0) -> None:
        import pycuda.driver as cuda  # not pycuda.autoinit: see the module doc

        cuda.init()
        self.cuda = cuda
        self.context = cuda.Device(device).retain_primary_context()
        self._allocs: dict[int, Any] = {}
        with self.active():
            self.stream = cuda.Stream()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self.context.push()
        try:
            yield
        finally:
            self.cuda.Context.pop()

    def malloc(self, nbytes: int) -> int:
        alloc = self.cuda.mem_alloc(nbytes)
        self._allocs[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        alloc = self._allocs.pop(ptr, None)
        if alloc is not None:
            alloc.free()

    def host(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.cuda.pagelocked_empty(shape, dtype)

    def free_host(self, arr: np.ndarray) -> None:
        base = getattr(arr, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()

    def htod(self, ptr: int, arr: np.ndarray) -> None:
        self.cuda.memcpy_htod_async(ptr, arr, self.stream)

    def dtoh(self, arr: np.ndarray, ptr: int) -> None:
        self.cuda.memcpy_dtoh_async(arr, ptr, self.stream)

    def sync(self) -> None:
        self.stream.synchronize()

    @property
    def handle(self) -> int:
        return int(self.stream.handle)

    def close(self) -> None:
        self.context.detach()


CUDA_APIS = (_CudaPython, _PyCuda)


def cuda_api(device: int = 0) -> Any:
    """cuda-python if it imports *and* works with this driver, else pycuda.

    cuda-python 13.x needs an R580+ driver: there the first runtime call fails with a driver
    error (or the import itself fails), which is as good a reason to fall back as an ImportError.

    Raises:
        BackendUnavailableError: neither works; the message gives each one's reason.
    """
    reasons = []
    for factory in CUDA_APIS:
        try:
            return factory(device)
        except Exception as e:  # ImportError, RuntimeError from the bindings, a CUDA driver error
            reasons.append(f"{factory.label}: {type(e).__name__}: {str(e)[:160]}")
    raise BackendUnavailableError(
        "the TensorRT backend needs cuda-python (pip install 'edgefuse[trt]', which pins cuda-python 12.x: 13.x "
        "needs an R580+ driver) or pycuda (JetPack) for device memory; " + "; ".join(reasons)
    )


def device_index(device: str | None) -> int:
    """``cuda``/``cuda:N``/``tensorrt`` -> N; a CPU device is refused (engines run on a CUDA GPU)."""
    d = (device or "cuda").lower()
    if d in ("cuda", "tensorrt", "trt", "gpu"):
        return 0
    if d.startswith("cuda:") and d[5:].isdigit():
        return int(d[5:])
    raise ConfigError(f"a TensorRT engine runs on a CUDA GPU: pass --device cuda or cuda:N, not {device!r}")


class TrtBackend(Backend):
    """A TensorRT ``.plan`` (built by ``edgefuse build``/``export``; sidecar JSON beside it)."""

    name = "tensorrt"

    def __init__(self, plan: str | os.PathLike[str], device: str = "cuda") -> None:
        self.plan = Path(plan)
        if not self.plan.is_file():
            raise DataError(f"engine not found: {self.plan}")
        from edgefuse.runtime.sidecars import read_sidecar

        self.sidecar = read_sidecar(self.plan, required=True) or {}
        self.index = device_index(device)
        super().__init__(f"cuda:{self.index}", str(self.sidecar.get("precision", "fp16")))
        rule = self.sidecar.get("size_rule") or {}
        self.size_multiple = int(rule.get("multiple", 1) or 1)
        self.engine: Any = None
        self.context: Any = None
        self.cuda: Any = None
        self._trt: Any = None
        self._specs: dict[str, TensorSpec] = {}
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)
        self._host: dict[str, np.ndarray] = {}  # name -> pinned host array
        self._engine_mb = 0.0
        self.peak_device_mb = 0.0

    def _open(self) -> None:
        from edgefuse.runtime.trt._trt import import_tensorrt
        from edgefuse.runtime.trt.guard import load_engine

        self._trt = trt = import_tensorrt()
        self.cuda = cuda_api(self.index)
        with self.cuda.active():
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
        # activation memory of the engine, from the engine itself: no device-wide cudaMemGetInfo per call
        from edgefuse.runtime.trt.trt_api import has

        attr = "device_memory_size_v2" if has("ICudaEngine.device_memory_size_v2", str(trt.__version__)) \
            else "device_memory_size"
        self._engine_mb = int(getattr(self.engine, attr)) / 2**20
        self.peak_device_mb = self._engine_mb

    def _close(self) -> None:
        if self.cuda is not None:
            with self.cuda.active():
                for ptr, _ in self._buffers.values():
                    self.cuda.free(ptr)
                for arr in self._host.values():
                    self.cuda.free_host(arr)
                self.context = self.engine = None
            self.cuda.close()
        self._buffers.clear()
        self._host.clear()
        self.context = self.engine = self.cuda = None

    @property
    def artefact(self) -> str | None:
        return str(self.plan)

    @property
    def input_specs(self) -> list[TensorSpec]:
        """From the engine once open, else from the sidecar's shapes (no engine is deserialized)."""
        specs = self._specs if self.engine is not None else self._sidecar_specs()
        return [specs["vis"], specs["ir"]]

    @property
    def output_specs(self) -> list[TensorSpec]:
        specs = self._specs if self.engine is not None else self._sidecar_specs()
        return [specs["fused"]]

    def _sidecar_specs(self) -> dict[str, TensorSpec]:
        """The I/O a plan was built for, as its sidecar records it (static shapes, else dynamic H and W)."""
        static = self.sidecar.get("static_shapes") or {}
        vis = tuple(static["vis"]) if isinstance(static.get("vis"), list) else (None, 3, None, None)
        ir = tuple(static["ir"]) if isinstance(static.get("ir"), list) else (None, 1, None, None)
        return {"vis": TensorSpec("vis", vis), "ir": TensorSpec("ir", ir),
                "fused": TensorSpec("fused", (vis[0], 3, *vis[2:]))}

    def versions(self) -> dict[str, str]:
        return {"tensorrt": str(getattr(self._trt, "__version__", "")), "cuda_api": getattr(self.cuda, "label", "")}

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: str) -> tuple[int, np.ndarray]:
        """The device buffer and pinned host array for ``name``, grown (never shrunk) to ``shape``."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                self.cuda.free(ptr)
            ptr = self.cuda.malloc(nbytes)
            self._buffers[name] = (ptr, nbytes)
            self.peak_device_mb = self._engine_mb + sum(b for _, b in self._buffers.values()) / 2**20
        self.context.set_tensor_address(name, ptr)
        host = self._host.get(name)
        if host is None or host.shape != shape:
            if host is not None:
                self.cuda.free_host(host)
            host = self._host[name] = self.cuda.host(shape, np.dtype(dtype))
        return ptr, host

    def _infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        with self.cuda.active():  # the thread calling infer may not be the one that opened the engine
            return self._run({"vis": vis, "ir": ir})

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        t0 = time.perf_counter()
        for name, arr in feeds.items():
            if not self.context.set_input_shape(name, tuple(arr.shape)):
                raise EngineBuildError(f"{self.plan}: shape {arr.shape} of {name} is outside the engine's profiles")
        out_shape = tuple(self.context.get_tensor_shape("fused"))
        ptrs = {}
        for name, arr in feeds.items():
            ptrs[name], host = self._buffer(name, tuple(arr.shape), self._specs[name].dtype)
            np.copyto(host, arr, casting="same_kind")
        out_ptr, out_host = self._buffer("fused", out_shape, self._specs["fused"].dtype)
        t1 = time.perf_counter()
        for name in feeds:
            self.cuda.htod(ptrs[name], self._host[name])  # pinned: a real asynchronous copy
        self.cuda.sync()
        t2 = time.perf_counter()
        if not self.context.execute_async_v3(self.cuda.handle):
            raise EngineBuildError(f"TensorRT execution of {self.plan} failed (see the TensorRT log)")
        self.cuda.sync()
        t3 = time.perf_counter()
        self.cuda.dtoh(out_host, out_ptr)
        self.cuda.sync()
        t4 = time.perf_counter()
        result = out_host.astype(np.float32, copy=True)  # the pinned buffer is reused by the next call
        t5 = time.perf_counter()
        self.last_stages_ms = {"pre": (t1 - t0) * 1e3, "h2d": (t2 - t1) * 1e3, "compute": (t3 - t2) * 1e3,
                               "d2h": (t4 - t3) * 1e3, "post": (t5 - t4) * 1e3}
        return result
