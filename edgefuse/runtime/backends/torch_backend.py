"""The PyTorch backend: eager models on CPU or CUDA, FP32/FP16, optional channels-last and CUDA graphs."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from edgefuse.runtime.backends.base import Backend, TensorSpec, check_precision
from edgefuse.errors import BackendUnavailableError, ConfigError
from edgefuse.models.contract import text_dim_of

logger = logging.getLogger(__name__)


class TorchBackend(Backend):
    """Eager PyTorch.

    Args:
        model: What to run: a :class:`~edgefuse.runtime.loaders.TorchLoader` (called on ``open``),
            something it loaded, or an ``nn.Module`` with the ``(vis, ir) -> fused`` contract (a
            text-guided teacher comes wrapped by the loader; see ``edgefuse.text.conditioning``).
            ``edgefuse.runtime.open_backend`` builds it from any spec.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``fp32`` or ``fp16`` (CUDA only).
        channels_last: Run convolutions in NHWC memory layout.
        cuda_graphs: Capture the forward pass once per input shape and replay it (CUDA only).
        threads: CPU threads for torch (0 = leave torch's setting).
    """

    name = "torch"

    def __init__(self, model: Any, device: str = "cpu",
                 precision: str = "fp32", channels_last: bool = False, cuda_graphs: bool = False,
                 threads: int = 0) -> None:
        precision = check_precision(precision, ("fp32", "fp16"))
        if not (device == "cpu" or device.startswith("cuda")):
            raise ConfigError(f"torch backend device must be cpu or cuda[:N]; got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailableError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
        if precision == "fp16" and device == "cpu":
            raise ConfigError("fp16 in the torch backend needs --device cuda (CPU half convolutions are slow "
                              "or missing); use fp32 on the CPU, or ONNX Runtime INT8")
        if cuda_graphs and device == "cpu":
            raise ConfigError("CUDA graphs need --device cuda")
        super().__init__(device, precision)
        self._source = model
        self.channels_last = channels_last
        self.cuda_graphs = cuda_graphs
        self.threads = threads
        self.model: nn.Module | None = None
        self.label = ""
        self.checkpoint: str | None = None
        self._graphs: dict[tuple[int, ...], tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _open(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        loaded = self._source() if callable(self._source) and not isinstance(self._source, nn.Module) else self._source
        if isinstance(loaded, nn.Module):
            module, self.label, self.checkpoint = loaded, type(loaded).__name__, None
        else:
            module, self.label, self.checkpoint = loaded.module, loaded.name, loaded.checkpoint
        if text_dim_of(module):
            raise ConfigError(f"{self.label} takes a text: wrap it in edgefuse.text.conditioning (the loader does)")
        self.model = module.eval().to(self.device)
        if self.precision == "fp16":
            self.model.half()
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def _close(self) -> None:
        self.model = None
        self._graphs.clear()

    @property
    def artefact(self) -> str | None:
        return self.checkpoint or self.label

    @property
    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("vis", (None, 3, None, None)), TensorSpec("ir", (None, 1, None, None))]

    @property
    def output_specs(self) -> list[TensorSpec]:
        return [TensorSpec("fused", (None, 3, None, None))]

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def _infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        assert self.model is not None
        dtype = torch.float16 if self.precision == "fp16" else torch.float32
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        t0 = time.perf_counter()
        v = torch.from_numpy(vis)
        i = torch.from_numpy(ir)
        t1 = time.perf_counter()
        v = v.to(self.device, dtype).contiguous(memory_format=fmt)
        i = i.to(self.device, dtype).contiguous(memory_format=fmt)
        self._sync()
        t2 = time.perf_counter()
        if self.cuda_graphs:
            out = self._graph_run(v, i)
        else:
            out = self.model(v, i)
        self._sync()
        t3 = time.perf_counter()
        host = out.float().cpu()
        t4 = time.perf_counter()
        result = np.ascontiguousarray(host.numpy())
        t5 = time.perf_counter()
        ms = lambda a, b: (b - a) * 1000.0  # noqa: E731
        if self.device == "cpu":
            self.last_stages_ms = {"pre": ms(t0, t2), "compute": ms(t2, t3), "post": ms(t3, t5)}
        else:
            self.last_stages_ms = {"pre": ms(t0, t1), "h2d": ms(t1, t2), "compute": ms(t2, t3),
                                   "d2h": ms(t3, t4), "post": ms(t4, t5)}
        return result

    def _graph_run(self, v: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """Replay a CUDA graph captured for this shape (captured on first use, after warm-up)."""
        assert self.model is not None
        key = tuple(v.shape)
        if key not in self._graphs:
            sv, si = v.clone(), i.clone()
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                for _ in range(3):  # warm-up outside the graph (cuDNN autotuning, allocator)
                    self.model(sv, si)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                so = self.model(sv, si)
            self._graphs[key] = (graph, sv, si, so)
        graph, sv, si, so = self._graphs[key]
        sv.copy_(v)
        si.copy_(i)
        graph.replay()
        return so

