"""TensorRT engines: build (TensorRT 10 flags / 11 strongly typed), version/GPU guard, inspection.

TensorRT is imported lazily: everything here imports without it, and the functions that need it
raise ``BackendUnavailableError`` naming the ``trt`` extra.
"""

from edgefuse.runtime.trt._trt import tensorrt_version
from edgefuse.engines.build import build_engine, graph_precision, plan_build, plan_for
from edgefuse.engines.config import EngineConfig
from edgefuse.runtime.trt.guard import check_engine, load_engine
from edgefuse.engines.inspect import inspect_engine, inspect_file, inspect_onnx
from edgefuse.engines.plan import BuildPlan, format_plan

__all__ = [
    "BuildPlan",
    "EngineConfig",
    "build_engine",
    "check_engine",
    "format_plan",
    "graph_precision",
    "inspect_engine",
    "inspect_file",
    "inspect_onnx",
    "load_engine",
    "plan_build",
    "plan_for",
    "tensorrt_version",
]
