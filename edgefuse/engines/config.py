"""``EngineConfig``: the options of one TensorRT engine build."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from edgefuse.config_types import check_field_types
from edgefuse.errors import ConfigError
from edgefuse.config_types import DynamicSpec, Precision, parse_dynamic

HARDWARE_COMPAT = ("ampere_plus", "same_compute_capability")
HIGH_PRECISION = ("fp16", "fp32")


@dataclass(frozen=True)
class EngineConfig:
    """Options of ``build_engine``.

    Attributes:
        precision: ``fp32``, ``fp16`` or ``int8`` (int8 needs a Q/DQ graph: implicit
            calibration is deprecated since TensorRT 10.1 and gone in 11).
        output: Plan file; default ``engines/<model>_<precision>.plan``.
        workspace_mb: Workspace memory pool limit (small on Jetson, where CPU and GPU share RAM).
        dla_core: Build for this DLA core (FP16/INT8 only), with GPU fallback.
        timing_cache: Timing cache file, read if present and written back after the build.
        profile: (min, opt, max) H x W for dynamic graphs; default from the ONNX sidecar.
        strongly_typed: ``None`` = automatic (TensorRT 11: always; TensorRT 10: builder
            flags, i.e. weak typing); ``True`` on TensorRT 10 builds from the FP16/Q-DQ graph.
        optimization_level: Builder optimization level 0-5 (TensorRT default 3).
        hardware_compat: ``ampere_plus`` for engines that load on any Ampere+ GPU.
        int8_high_precision: What INT8 runs outside the Q/DQ pairs: ``None``/``fp16`` (NVIDIA's
            recipe; strongly typed, from ``<model>_int8_fp16.onnx``) or ``fp32`` (explicitly:
            the FP32-elsewhere ``<model>_int8.onnx``; weakly typed, the INT8 flag without FP16).
    """

    precision: Precision = Precision.FP16
    output: str | None = None
    workspace_mb: int | None = None
    dla_core: int | None = None
    timing_cache: str | None = None
    profile: DynamicSpec | None = None
    strongly_typed: bool | None = None
    optimization_level: int | None = None
    hardware_compat: str | None = None
    int8_high_precision: str | None = None

    def __post_init__(self) -> None:
        check_field_types(type(self), dataclasses.asdict(self), "engine")  # no from_dict: built from flags
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        if self.profile is not None:
            object.__setattr__(self, "profile", parse_dynamic(self.profile))
        if self.workspace_mb is not None and self.workspace_mb <= 0:
            raise ConfigError(f"workspace must be a positive number of MiB, got {self.workspace_mb}")
        if self.dla_core is not None:
            if self.dla_core < 0:
                raise ConfigError(f"DLA core must be >= 0, got {self.dla_core}")
            if self.precision is Precision.FP32:
                raise ConfigError("DLA runs FP16 or INT8 only: pass --precision fp16 or int8 with --dla")
        if self.optimization_level is not None and not 0 <= self.optimization_level <= 5:
            raise ConfigError(f"builder optimization level must be 0-5, got {self.optimization_level}")
        if self.hardware_compat is not None and self.hardware_compat not in HARDWARE_COMPAT:
            raise ConfigError(
                f"hardware_compat must be one of {', '.join(HARDWARE_COMPAT)}, got {self.hardware_compat!r}"
            )

        if self.int8_high_precision is not None:
            if self.int8_high_precision not in HIGH_PRECISION:
                raise ConfigError(f"int8_high_precision must be fp16 or fp32, got {self.int8_high_precision!r}")
            if self.precision is not Precision.INT8:
                raise ConfigError("--int8-high-precision goes with --precision int8")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["precision"] = self.precision.value
        return d
