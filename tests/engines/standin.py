"""Recording stand-ins for ``tensorrt`` and ``pycuda.driver``, limited to the real API names.

``RecordingTensorRT(version)`` exposes exactly the names of ``edgefuse.runtime.trt.trt_api.NAMES``
that TensorRT ``version`` has: touching any other attribute (or one the version lacks, such as
``BuilderFlag.FP16`` on 11.x) raises ``AttributeError``, so the CPU tests catch a call the real
bindings would not take. It records every call in ``calls``. It produces no engine result: the
"plan" it serializes is a marker string, and an engine it deserializes runs nothing; tests check
the calls, never output values (those need TensorRT: tests marked ``trt``).

Behaviour it does model, from the bindings' documentation: ``set_timing_cache`` returns False for
a cache made on another device (``ignore_mismatch=False``), ``get_timing_cache`` can return None,
``set_input_shape`` returns False outside the profile.

``RecordingPyCuda`` models pycuda's per-thread context stack: memory calls, copies and
``execute_async_v3`` without a current context fail like pycuda's "invalid device context".
Names used: ``init``, ``Device(i).name/compute_capability/retain_primary_context``,
``Context.push/pop/detach``, ``mem_alloc``, ``pagelocked_empty``, ``memcpy_htod_async``,
``memcpy_dtoh_async``, ``Stream().synchronize/handle`` (pycuda ``driver`` module documentation).
"""

from __future__ import annotations

import threading
import types
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.runtime.trt.trt_api import names_in

PLAN_MARKER = b"edgefuse recording stand-in: not a TensorRT plan"
ONNX_LAYER_TYPES = {"LayerNormalization": "NORMALIZATION", "Softmax": "SOFTMAX", "ReduceMean": "REDUCE",
                    "ReduceSum": "REDUCE", "ReduceL2": "REDUCE"}


class _Value:
    def __init__(self, name: str, number: int = 0) -> None:
        self.name, self.number = name, number

    def __int__(self) -> int:
        return self.number

    def __repr__(self) -> str:
        return self.name


class _Strict:
    """Attribute access and assignment limited to ``OWNER.name`` entries of the version's names."""

    OWNER = ""

    def __init__(self, trt: RecordingTensorRT) -> None:
        object.__setattr__(self, "_trt", trt)

    def _check(self, name: str) -> None:
        if not name.startswith("_") and f"{self.OWNER}.{name}" not in object.__getattribute__(self, "_trt").names:
            raise AttributeError(f"TensorRT {self._trt.__version__} has no {self.OWNER}.{name}")

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name != "OWNER":
            object.__getattribute__(self, "_check")(name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._check(name)
        self._trt.calls.append((f"{self.OWNER}.{name}=", value))
        object.__setattr__(self, name, value)


class _Enum(_Strict):
    def __init__(self, trt: RecordingTensorRT, owner: str) -> None:
        object.__setattr__(self, "OWNER", owner)
        super().__init__(trt)
        for i, full in enumerate(sorted(n for n in trt.names if n.startswith(owner + "."))):
            object.__setattr__(self, full.split(".", 1)[1], _Value(full, i))


class _Tensor(_Strict):
    OWNER = "ITensor"

    def __init__(self, trt: RecordingTensorRT, name: str, shape: tuple[int, ...]) -> None:
        super().__init__(trt)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", shape)


class _Layer(_Strict):
    OWNER = "ILayer"

    def __init__(self, trt: RecordingTensorRT, name: str, kind: Any) -> None:
        super().__init__(trt)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "num_outputs", 1)

    def set_output_type(self, index: int, dtype: Any) -> None:
        self._trt.calls.append(("ILayer.set_output_type", (self.name, index, dtype)))


class _Network(_Strict):
    OWNER = "INetworkDefinition"

    def __init__(self, trt: RecordingTensorRT, flags: int) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_flags", flags)
        object.__setattr__(self, "_inputs", [])
        object.__setattr__(self, "_layers", [])

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    def get_input(self, i: int) -> _Tensor:
        return self._inputs[i]

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_layer(self, i: int) -> _Layer:
        return self._layers[i]


class _Parser(_Strict):
    OWNER = "OnnxParser"

    def __init__(self, trt: RecordingTensorRT, network: _Network, logger: Any) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_network", network)
        object.__setattr__(self, "num_errors", 0)

    def parse_from_file(self, path: str) -> bool:
        import onnx

        model = onnx.load(path, load_external_data=False)
        inits = {t.name for t in model.graph.initializer}
        net, trt = self._network, self._trt
        for i in model.graph.input:
            if i.name not in inits:
                dims = tuple(d.dim_value if d.dim_value > 0 else -1 for d in i.type.tensor_type.shape.dim)
                net._inputs.append(_Tensor(trt, i.name, dims))
        for node in model.graph.node:
            kind = getattr(trt.LayerType, ONNX_LAYER_TYPES[node.op_type]) if node.op_type in ONNX_LAYER_TYPES \
                else _Value(f"LayerType.{node.op_type.upper()}")
            net._layers.append(_Layer(trt, node.name, kind))
        trt.calls.append(("OnnxParser.parse_from_file", path))
        return True

    def get_error(self, i: int) -> str:
        return ""


class _TimingCache(_Strict):
    OWNER = "ITimingCache"

    def __init__(self, trt: RecordingTensorRT, data: bytes) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_data", data)

    def serialize(self) -> bytes:
        return self._trt.device_key + b":timings"


class _Profile(_Strict):
    OWNER = "IOptimizationProfile"

    def set_shape(self, name: str, lo: Any, opt: Any, hi: Any) -> None:
        self._trt.calls.append(("IOptimizationProfile.set_shape", (name, list(lo), list(opt), list(hi))))
        self._trt.profile_shapes[name] = (list(lo), list(opt), list(hi))


class _Config(_Strict):
    OWNER = "IBuilderConfig"

    def set_flag(self, flag: Any) -> None:
        self._trt.calls.append(("IBuilderConfig.set_flag", repr(flag)))

    def set_memory_pool_limit(self, pool: Any, size: int) -> None:
        self._trt.calls.append(("IBuilderConfig.set_memory_pool_limit", (repr(pool), size)))

    def add_optimization_profile(self, profile: _Profile) -> int:
        self._trt.calls.append(("IBuilderConfig.add_optimization_profile", None))
        return 0

    def create_timing_cache(self, data: bytes) -> _TimingCache:
        self._trt.calls.append(("IBuilderConfig.create_timing_cache", bytes(data)))
        return _TimingCache(self._trt, bytes(data))

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        ok = ignore_mismatch or cache._data in (b"", self._trt.device_key + b":timings")
        self._trt.calls.append(("IBuilderConfig.set_timing_cache", ok))
        if ok:
            object.__setattr__(self, "_cache", cache)
        return ok

    def get_timing_cache(self) -> _TimingCache | None:
        return None if self._trt.lose_timing_cache else getattr(self, "_cache", None)


class _Builder(_Strict):
    OWNER = "Builder"

    def __init__(self, trt: RecordingTensorRT, logger: Any) -> None:
        super().__init__(trt)
        object.__setattr__(self, "num_DLA_cores", trt.dla_cores)

    def create_network(self, flags: int) -> _Network:
        self._trt.calls.append(("Builder.create_network", flags))
        return _Network(self._trt, flags)

    def create_builder_config(self) -> _Config:
        return _Config(self._trt)

    def create_optimization_profile(self) -> _Profile:
        return _Profile(self._trt)

    def build_serialized_network(self, network: _Network, config: _Config) -> bytes:
        self._trt.calls.append(("Builder.build_serialized_network", None))
        return PLAN_MARKER


class _Context(_Strict):
    OWNER = "IExecutionContext"

    def __init__(self, trt: RecordingTensorRT, engine: _Engine) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_shapes", {})
        object.__setattr__(self, "_addresses", {})

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        lo, _, hi = self._trt.profile_shapes.get(name, (None, None, None))
        ok = lo is None or all(a <= s <= b for a, s, b in zip(lo, shape, hi))
        self._shapes[name] = tuple(shape)
        return ok

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        n, _, h, w = self._shapes["vis"]
        return (n, 3, h, w)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self._addresses[name] = ptr
        return True

    def execute_async_v3(self, stream: int) -> bool:
        cuda = self._trt.cuda
        if cuda is not None:
            cuda.require_context("execute_async_v3")
        self._trt.calls.append(("IExecutionContext.execute_async_v3",
                                (threading.get_ident(), stream, dict(self._addresses))))
        return True


class _Engine(_Strict):
    OWNER = "ICudaEngine"

    def __init__(self, trt: RecordingTensorRT) -> None:
        super().__init__(trt)
        object.__setattr__(self, "_io", list(trt.engine_io.items()))
        object.__setattr__(self, "num_io_tensors", len(trt.engine_io))
        object.__setattr__(self, "device_memory_size_v2", 8 << 20)  # read only where the version has it
        object.__setattr__(self, "device_memory_size", 8 << 20)

    def get_tensor_name(self, i: int) -> str:
        return self._io[i][0]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return dict(self._io)[name][0]

    def get_tensor_dtype(self, name: str) -> str:
        return dict(self._io)[name][1]

    def create_execution_context(self) -> _Context:
        if self._trt.cuda is not None:
            self._trt.cuda.require_context("create_execution_context")
        return _Context(self._trt, self)


class _Runtime(_Strict):
    OWNER = "Runtime"

    def deserialize_cuda_engine(self, data: bytes) -> _Engine | None:
        self._trt.calls.append(("Runtime.deserialize_cuda_engine", len(data)))
        return _Engine(self._trt) if bytes(data) == PLAN_MARKER else None


class RecordingTensorRT(types.ModuleType):
    """A ``tensorrt`` module for ``version`` that records calls (see the module doc)."""

    def __init__(self, version: str, dla_cores: int = 0) -> None:
        import importlib.machinery

        super().__init__("tensorrt")
        self.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)  # find_spec() finds it in sys.modules
        self.__version__ = version
        self.names = names_in(version)
        self.calls: list[tuple[str, Any]] = []
        self.dla_cores = dla_cores
        self.device_key = b"gpu-a"
        self.lose_timing_cache = False
        self.profile_shapes: dict[str, tuple[list[int], list[int], list[int]]] = {}
        self.engine_io: dict[str, tuple[tuple[int, ...], str]] = {
            "vis": ((1, 3, -1, -1), "float32"), "ir": ((1, 1, -1, -1), "float32"),
            "fused": ((1, 3, -1, -1), "float32")}
        self.cuda: RecordingPyCuda | None = None
        self.float32 = _Value("float32")
        for owner in {n.split(".")[0] for n in self.names if "." in n} - {
                "Builder", "INetworkDefinition", "ITensor", "ILayer", "OnnxParser", "IBuilderConfig", "ITimingCache",
                "IOptimizationProfile", "Runtime", "ICudaEngine", "IExecutionContext", "IEngineInspector", "Logger"}:
            setattr(self, owner, _Enum(self, owner))

    def __getattribute__(self, name: str) -> Any:
        public = {"Logger", "Builder", "OnnxParser", "Runtime", "nptype", "float32", "__version__"}
        if name in public and name not in object.__getattribute__(self, "names"):
            raise AttributeError(f"this TensorRT has no {name}")
        return super().__getattribute__(name)

    def Logger(self, level: Any = None) -> Any:  # noqa: N802 - the real class name
        return types.SimpleNamespace()

    def Builder(self, logger: Any) -> _Builder:  # noqa: N802
        return _Builder(self, logger)

    def OnnxParser(self, network: _Network, logger: Any) -> _Parser:  # noqa: N802
        return _Parser(self, network, logger)

    def Runtime(self, logger: Any) -> _Runtime:  # noqa: N802
        return _Runtime(self)

    def nptype(self, dtype: str) -> Any:
        return np.dtype(dtype).type

    def called(self, name: str) -> list[Any]:
        return [args for n, args in self.calls if n == name]


# Logger.WARNING is read as a class attribute of Logger: give the bound method one
RecordingTensorRT.Logger.WARNING = 2  # type: ignore[attr-defined]


class _Alloc:
    def __init__(self, owner: RecordingPyCuda, ptr: int) -> None:
        self.owner, self.ptr = owner, ptr

    def __int__(self) -> int:
        return self.ptr

    def free(self) -> None:
        self.owner.freed.append(self.ptr)


class RecordingPyCuda:
    """``pycuda.driver`` with a per-thread context stack (see the module doc)."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.events: list[tuple[str, int]] = []
        self.freed: list[int] = []
        self.next_ptr = 0x1000
        outer = self

        class Context:
            def push(self) -> None:
                outer._stack().append(self)
                outer.events.append(("push", threading.get_ident()))

            @staticmethod
            def pop() -> None:
                outer._stack().pop()
                outer.events.append(("pop", threading.get_ident()))

            def detach(self) -> None:
                outer.events.append(("detach", threading.get_ident()))

        class Device:
            def __init__(self, index: int) -> None:
                self.index = index

            def name(self) -> str:
                return "Orin"

            def compute_capability(self) -> tuple[int, int]:
                return (8, 7)

            def retain_primary_context(self) -> Context:
                return Context()

        class Stream:
            handle = 0xBEEF

            def synchronize(self) -> None:
                outer.require_context("Stream.synchronize")

        self.Context, self.Device, self.Stream = Context, Device, Stream

    def _stack(self) -> list[Any]:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        return self.local.stack

    def require_context(self, what: str) -> None:
        if not self._stack():
            raise RuntimeError(f"{what} failed: invalid device context")

    def init(self) -> None:
        self.events.append(("init", threading.get_ident()))

    def mem_alloc(self, nbytes: int) -> _Alloc:
        self.require_context("cuMemAlloc")
        self.next_ptr += 0x1000
        return _Alloc(self, self.next_ptr)

    def pagelocked_empty(self, shape: Any, dtype: Any) -> np.ndarray:
        self.require_context("cuMemHostAlloc")
        self.events.append(("pagelocked", threading.get_ident()))
        return np.empty(shape, dtype)

    def memcpy_htod_async(self, dest: int, src: np.ndarray, stream: Any) -> None:
        self.require_context("cuMemcpyHtoDAsync")

    def memcpy_dtoh_async(self, dest: np.ndarray, src: int, stream: Any) -> None:
        self.require_context("cuMemcpyDtoHAsync")


def install(monkeypatch: Any, trt: RecordingTensorRT, pycuda: RecordingPyCuda | None = None) -> None:
    """Put the stand-ins in ``sys.modules`` (``tensorrt``; ``pycuda``/``pycuda.driver``) for one test."""
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    if pycuda is not None:
        trt.cuda = pycuda
        pkg = types.ModuleType("pycuda")
        drv = types.ModuleType("pycuda.driver")
        for name in ("init", "Device", "Context", "Stream", "mem_alloc", "pagelocked_empty",
                     "memcpy_htod_async", "memcpy_dtoh_async"):
            setattr(drv, name, getattr(pycuda, name))
        pkg.driver = drv  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "pycuda", pkg)
        monkeypatch.setitem(sys.modules, "pycuda.driver", drv)


def write_onnx_with_sidecar(folder: Path, name: str = "d_fp16", multiple: int = 64) -> Path:
    """A tiny dynamic FP16 graph (vis, ir -> fused, one LayerNormalization) with an export-style sidecar."""
    import json

    import onnx
    from onnx import TensorProto, helper

    vis = helper.make_tensor_value_info("vis", TensorProto.FLOAT, [1, 3, "h", "w"])
    ir = helper.make_tensor_value_info("ir", TensorProto.FLOAT, [1, 1, "h", "w"])
    fused = helper.make_tensor_value_info("fused", TensorProto.FLOAT, [1, 3, "h", "w"])
    nodes = [helper.make_node("Cast", ["vis"], ["v16"], to=TensorProto.FLOAT16, name="/cast_in"),
             helper.make_node("Cast", ["v16"], ["v32"], to=TensorProto.FLOAT, name="/cast_out"),
             helper.make_node("Add", ["v32", "ir"], ["fused"], name="/blk/Add")]
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [vis, ir], [fused])), str(path))
    doc = {"format": "edgefuse-artefact/1", "precision": "fp16", "model": {"name": "tiny"},
           "shapes": {"min": [256, 320], "opt": [512, 640], "max": [704, 1024]},
           "size_rule": {"multiple": multiple, "note": "pad up"}, "fp16": {"kept_fp32_nodes": ["/blk/Add"]}}
    (folder / f"{name}.onnx.json").write_text(json.dumps(doc))
    return path


class RecordingCudaRuntime(types.ModuleType):
    """``cuda.bindings.runtime`` with a per-thread current device; results are ``(err, value)`` tuples.

    Names used (cuda-python runtime bindings): ``cudaSetDevice``, ``cudaGetDeviceProperties``,
    ``cudaStreamCreate``, ``cudaStreamSynchronize``, ``cudaStreamDestroy``, ``cudaMalloc``,
    ``cudaFree``, ``cudaMallocHost``, ``cudaFreeHost``, ``cudaMemcpyAsync``, ``cudaMemcpyKind``.
    A stream or copy used from a thread whose current device is not the stream's fails, as the
    CUDA runtime does ("invalid resource handle"); device 0 is current on a new thread.
    """

    class cudaMemcpyKind:  # noqa: N801 - the real name
        cudaMemcpyHostToDevice = 1
        cudaMemcpyDeviceToHost = 2

    def __init__(self) -> None:
        super().__init__("cuda.bindings.runtime")
        self.local = threading.local()
        self.streams: dict[int, int] = {}  # handle -> device
        self.pinned: dict[int, Any] = {}
        self.events: list[tuple[str, int, int]] = []  # (call, thread, device)
        self.next = 0x100

    def _dev(self) -> int:
        return getattr(self.local, "device", 0)

    def require_context(self, what: str) -> None:
        self.events.append((what, threading.get_ident(), self._dev()))

    def cudaSetDevice(self, device: int) -> tuple[int]:  # noqa: N802
        self.local.device = device
        self.events.append(("cudaSetDevice", threading.get_ident(), device))
        return (0,)

    def cudaGetDeviceProperties(self, device: int) -> tuple[int, Any]:  # noqa: N802
        return 0, types.SimpleNamespace(name=b"RTX 4090\x00", major=8, minor=9)

    def cudaStreamCreate(self) -> tuple[int, int]:  # noqa: N802
        self.next += 1
        self.streams[self.next] = self._dev()
        return 0, self.next

    def _on_stream(self, stream: int, what: str) -> int:
        if self.streams[int(stream)] != self._dev():
            return 400  # cudaErrorInvalidResourceHandle
        self.events.append((what, threading.get_ident(), self._dev()))
        return 0

    def cudaStreamSynchronize(self, stream: int) -> tuple[int]:  # noqa: N802
        return (self._on_stream(stream, "cudaStreamSynchronize"),)

    def cudaStreamDestroy(self, stream: int) -> tuple[int]:  # noqa: N802
        return (0,)

    def cudaMalloc(self, nbytes: int) -> tuple[int, int]:  # noqa: N802
        self.next += 0x1000
        return 0, self.next

    def cudaFree(self, ptr: int) -> tuple[int]:  # noqa: N802
        return (0,)

    def cudaMallocHost(self, nbytes: int) -> tuple[int, int]:  # noqa: N802
        import ctypes

        buf = (ctypes.c_byte * nbytes)()
        self.pinned[ctypes.addressof(buf)] = buf
        self.events.append(("cudaMallocHost", threading.get_ident(), self._dev()))
        return 0, ctypes.addressof(buf)

    def cudaFreeHost(self, ptr: int) -> tuple[int]:  # noqa: N802
        return (0,) if self.pinned.pop(int(ptr), None) is not None else (1,)

    def cudaMemcpyAsync(self, dst: int, src: int, nbytes: int, kind: int, stream: int) -> tuple[int]:  # noqa: N802
        host = src if kind == self.cudaMemcpyKind.cudaMemcpyHostToDevice else dst
        if int(host) not in self.pinned:
            return (1,)  # only pinned host buffers are expected here
        return (self._on_stream(stream, "cudaMemcpyAsync"),)


def install_cuda_python(monkeypatch: Any, trt: RecordingTensorRT, rt: RecordingCudaRuntime) -> None:
    """Put ``rt`` in ``sys.modules`` as ``cuda.bindings.runtime`` (no pycuda)."""
    import sys

    trt.cuda = rt  # type: ignore[assignment]
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt  # type: ignore[attr-defined]
    pkg = types.ModuleType("cuda")
    pkg.bindings = bindings  # type: ignore[attr-defined]
    for name, mod in (("cuda", pkg), ("cuda.bindings", bindings), ("cuda.bindings.runtime", rt)):
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
