"""The runtime contract every backend (torch, ONNX Runtime, TensorRT) follows.

A backend takes ``vis`` (N,3,H,W RGB) and ``ir`` (N,1,H,W), float32 in [0, 1], and returns
``fused`` (N,3,H,W RGB, float32 in [0, 1]), whatever runs underneath; so ``edgefuse fuse``,
``edgefuse bench`` and ``edgefuse stream`` can take any artefact. ``fuse_u8`` is the image-level
entry point: it pads frames up to what a static-shape artefact (or the model's size rule)
needs, and crops the result back.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgefuse.data.images import u8_from_float
from edgefuse.errors import ConfigError, ShapeMismatchError


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (``None`` for a dynamic dimension) and dtype of one input or output."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    @property
    def static_hw(self) -> tuple[int, int] | None:
        """(H, W) when both are fixed, else ``None``."""
        if len(self.shape) == 4 and self.shape[2] is not None and self.shape[3] is not None:
            return int(self.shape[2]), int(self.shape[3])
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": ["dynamic" if d is None else d for d in self.shape], "dtype": self.dtype}


class Backend(ABC):
    """One loaded model, artefact or engine that fuses (vis, ir) -> fused.

    Use as a context manager (``with open_backend(...) as be:``) or call ``open()``/``close()``.
    After each ``infer`` call, ``last_latency_ms`` is the wall time of that call and
    ``last_stages_ms`` splits it into ``pre``, ``h2d``, ``compute``, ``d2h`` and ``post`` where
    the backend can tell them apart (stages it cannot separate are left out).
    """

    name: str = "backend"

    def __init__(self, device: str = "cpu", precision: str = "fp32") -> None:
        self.device = device
        self.precision = precision
        self.size_multiple = 1
        self.last_latency_ms: float | None = None
        self.last_stages_ms: dict[str, float] = {}
        self._opened = False

    # lifecycle ---------------------------------------------------------------------------
    def open(self) -> Backend:
        if not self._opened:
            self._open()
            self._opened = True
        return self

    def close(self) -> None:
        if self._opened:
            self._close()
            self._opened = False

    def __enter__(self) -> Backend:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _open(self) -> None: ...

    def _close(self) -> None:
        """Release what ``_open`` took (default: nothing)."""

    # description -------------------------------------------------------------------------
    @property
    @abstractmethod
    def input_specs(self) -> list[TensorSpec]: ...

    @property
    @abstractmethod
    def output_specs(self) -> list[TensorSpec]: ...

    @property
    def static_hw(self) -> tuple[int, int] | None:
        """The fixed (H, W) of a static-shape artefact, else ``None`` (any size the rule allows)."""
        return self.input_specs[0].static_hw if self.input_specs else None

    @property
    def static_batch(self) -> int | None:
        spec = self.input_specs[0] if self.input_specs else None
        return spec.shape[0] if spec is not None and spec.shape else None

    def describe(self) -> dict[str, Any]:
        """Backend, device, precision, artefact and I/O, for reports and the bench JSON."""
        return {"backend": self.name, "device": self.device, "precision": self.precision,
                "artefact": self.artefact, "size_multiple": self.size_multiple,
                "inputs": [s.to_dict() for s in self.input_specs],
                "outputs": [s.to_dict() for s in self.output_specs], "versions": self.versions()}

    @property
    def artefact(self) -> str | None:
        return None

    def versions(self) -> dict[str, str]:
        return {}

    # inference ---------------------------------------------------------------------------
    def check_inputs(self, vis: np.ndarray, ir: np.ndarray) -> None:
        """Refuse arrays that this backend cannot take, before anything runs.

        Raises:
            ShapeMismatchError: wrong rank/channels, vis and ir of different sizes, or a size
                that a static artefact or the size rule does not allow.
        """
        if vis.ndim != 4 or vis.shape[1] != 3:
            raise ShapeMismatchError(f"vis must be (N,3,H,W); got {tuple(vis.shape)}")
        if ir.ndim != 4 or ir.shape[1] != 1:
            raise ShapeMismatchError(f"ir must be (N,1,H,W); got {tuple(ir.shape)}")
        if vis.shape[0] != ir.shape[0] or vis.shape[2:] != ir.shape[2:]:
            raise ShapeMismatchError(f"vis {tuple(vis.shape)} and ir {tuple(ir.shape)} differ in batch or size")
        h, w = vis.shape[2:]
        fixed = self.static_hw
        if fixed is not None and (h, w) != fixed:
            raise ShapeMismatchError(
                f"{self.artefact or self.name} takes {fixed[0]}x{fixed[1]} (static shape); got {h}x{w}. "
                "Pad/crop frames with fuse_u8 (edgefuse fuse/stream do), or export with --height/--width "
                "or --dynamic MIN:OPT:MAX covering this size"
            )
        batch = self.static_batch
        if batch is not None and vis.shape[0] != batch:
            raise ShapeMismatchError(
                f"{self.artefact or self.name} takes batch {batch}; got {vis.shape[0]}"
            )
        m = self.size_multiple
        if fixed is None and m > 1 and (h % m or w % m):
            raise ShapeMismatchError(
                f"{self.artefact or self.name} needs height and width that are multiples of {m}; got {h}x{w}"
            )

    def infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        """Fuse a batch: float32 arrays in [0, 1] -> ``fused`` (N,3,H,W) float32."""
        if not self._opened:
            self.open()
        vis = np.ascontiguousarray(vis, dtype=np.float32)
        ir = np.ascontiguousarray(ir, dtype=np.float32)
        self.check_inputs(vis, ir)
        self.last_stages_ms = {}
        start = time.perf_counter()
        out = self._infer(vis, ir)
        self.last_latency_ms = (time.perf_counter() - start) * 1000.0
        return out

    @abstractmethod
    def _infer(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray: ...

    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        """The size a frame of ``h`` x ``w`` is padded up to before ``infer``.

        Raises:
            ShapeMismatchError: the frame is larger than a static artefact.
        """
        fixed = self.static_hw
        if fixed is not None:
            if h > fixed[0] or w > fixed[1]:
                raise ShapeMismatchError(
                    f"frame {h}x{w} is larger than the static shape {fixed[0]}x{fixed[1]} of "
                    f"{self.artefact or self.name}; export it for this size (--height {h} --width {w}) "
                    "or with --dynamic"
                )
            return fixed
        m = self.size_multiple
        return -(-h // m) * m, -(-w // m) * m

    def fuse_u8(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB + HxW uint8 -> fused HxWx3 uint8 RGB (pads, infers, crops)."""
        self._check_pair(vis, ir, "fuse_u8")
        out = self._fuse_padded(vis.astype(np.float32) / 255.0, ir.astype(np.float32) / 255.0)
        return u8_from_float(out)

    def fuse_float(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        """HxWx3 float RGB + HxW float, in [0, 1] -> fused HxWx3 float32 (pads, infers, crops; no rounding)."""
        self._check_pair(vis, ir, "fuse_float")
        return np.ascontiguousarray(self._fuse_padded(vis.astype(np.float32), ir.astype(np.float32)))

    @staticmethod
    def _check_pair(vis: np.ndarray, ir: np.ndarray, what: str) -> None:
        if vis.ndim != 3 or vis.shape[2] != 3 or ir.ndim != 2 or ir.shape != vis.shape[:2]:
            raise ShapeMismatchError(
                f"{what} takes an HxWx3 visible and an HxW IR image of the same size; got {vis.shape} and {ir.shape}"
            )

    def _fuse_padded(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        return self.infer_padded(vis.transpose(2, 0, 1)[None], ir[None, None])[0].transpose(1, 2, 0)

    def infer_padded(self, vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        """``infer`` for a (1,3,H,W) + (1,1,H,W) pair of any size: padded (reflect) to what the artefact takes,
        fused, cropped back to (1,3,H,W). ``fuse_u8``, ``fuse_float`` and ``compare`` go through it."""
        h, w = vis.shape[2:]
        ph, pw = self.padded_size(h, w)
        if (ph, pw) != (h, w):
            pad = ((0, 0), (0, 0), (0, ph - h), (0, pw - w))
            mode = "reflect" if h > 1 and w > 1 else "edge"
            vis, ir = np.pad(vis, pad, mode=mode), np.pad(ir, pad, mode=mode)
        batch = self.static_batch
        if batch is not None and batch > 1:
            vis, ir = np.repeat(vis, batch, axis=0), np.repeat(ir, batch, axis=0)
        return self.infer(vis, ir)[:1, :, :h, :w]


PRECISIONS = ("fp32", "fp16", "int8")


def check_precision(precision: str, allowed: tuple[str, ...] = PRECISIONS) -> str:
    p = precision.lower()
    if p not in allowed:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(allowed)}")
    return p
