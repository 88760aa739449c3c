"""Refuse engines built by another TensorRT version or for another GPU, before deserializing them.

TensorRT plans are tied to the TensorRT version that built them and to the GPU (compute
capability) unless built version- or hardware-compatible; deserializing a foreign plan fails
with a cryptic serialization assertion. The sidecar JSON says what built the plan.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from edgefuse.runtime.trt._trt import import_tensorrt, major, tensorrt_version
from edgefuse.runtime.trt.device import gpu_info
from edgefuse.errors import BackendUnavailableError, EngineBuildError
from edgefuse.files import file_sha256
from edgefuse.runtime.sidecars import read_sidecar

def rebuild_hint(doc: dict[str, Any]) -> str:
    onnx = (doc.get("onnx") or {}).get("path", "MODEL.onnx")
    return shlex.join(["edgefuse", "build", "--onnx", str(onnx), "--precision", str(doc.get("precision", "fp16"))])


def check_engine(
    plan: str | os.PathLike[str], trt_version: str | None = None, gpu: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check a plan against the TensorRT version and GPU here; return its sidecar.

    Args:
        plan: The ``.plan`` file.
        trt_version: TensorRT version to check against (default: the installed one).
        gpu: ``{"name", "compute_capability"}`` to check against (default: GPU 0 here).

    Raises:
        EngineBuildError: no/invalid sidecar, a plan changed since its build, or another
            TensorRT version or GPU; the message says how to rebuild.
        BackendUnavailableError: TensorRT is not installed (and no version was given).
    """
    p = Path(plan)
    if not p.is_file():
        raise EngineBuildError(f"engine not found: {p}")
    doc = read_sidecar(p, required=True)
    assert doc is not None
    if doc.get("sha256") and file_sha256(p) != doc["sha256"]:
        raise EngineBuildError(
            f"{p} does not match the hash in its sidecar: it was replaced or truncated; rebuild: {rebuild_hint(doc)}"
        )
    here = trt_version or tensorrt_version()
    if here is None:
        raise BackendUnavailableError("TensorRT is not installed here; engines run only where TensorRT is installed")
    built = str(doc.get("tensorrt"))
    same = major(built) == major(here) if doc.get("version_compatible") else built == here
    if not same:
        raise EngineBuildError(
            f"{p.name} was built with TensorRT {built}, this machine has TensorRT {here}: plans only load on the "
            f"TensorRT version that built them. Rebuild it here: {rebuild_hint(doc)}"
        )
    gpu_here = gpu or gpu_info()
    built_gpu = doc.get("gpu") or {}
    cc_built, cc_here = str(built_gpu.get("compute_capability")), str(gpu_here.get("compute_capability"))
    # only a level the builder really set loosens the check (sidecars from before it was set say nothing)
    level = doc.get("hardware_compat") if doc.get("hardware_compat_applied") else None
    if level == "ampere_plus":
        ok = float(cc_here) >= 8.0
    elif level == "same_compute_capability":
        ok = cc_here == cc_built
    else:
        ok = cc_here == cc_built and built_gpu.get("name") == gpu_here.get("name")
    if not ok:
        raise EngineBuildError(
            f"{p.name} was built for {built_gpu.get('name')} (compute capability {cc_built}), this GPU is "
            f"{gpu_here.get('name')} ({cc_here}): engines are specific to the GPU that built them. "
            f"Rebuild it here: {rebuild_hint(doc)}"
        )
    return doc


def deserialize(plan: str | os.PathLike[str]) -> Any:
    """Deserialize a plan that passed ``check_engine``; return the ``ICudaEngine``."""
    trt = import_tensorrt()
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    doc = read_sidecar(plan, required=False) or {}
    if doc.get("dla_core") is not None:
        runtime.DLA_core = int(doc["dla_core"])
    engine = runtime.deserialize_cuda_engine(Path(plan).read_bytes())
    if engine is None:
        raise EngineBuildError(
            f"TensorRT could not deserialize {plan} (see the TensorRT log); rebuild: {rebuild_hint(doc)}"
        )
    return engine


def load_engine(plan: str | os.PathLike[str]) -> Any:
    """``check_engine`` then ``deserialize``: the only way edgefuse loads a plan."""
    check_engine(plan)
    return deserialize(plan)
