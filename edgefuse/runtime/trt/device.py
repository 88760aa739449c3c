"""The GPU an engine is built for or loaded on: name and compute capability.

Asked in turn of torch.cuda, cuda-python and pycuda, because each deployment has a different
one: a desktop with CUDA torch, a desktop with a CPU-only torch and cuda-python, a JetPack image
with pycuda and a CPU-only torch. A cuda-python that cannot talk to the driver (13.x on a driver
older than R580) counts as absent, not as an error.
"""

from __future__ import annotations

from typing import Any

from edgefuse.errors import BackendUnavailableError


def _from_torch(device: int) -> dict[str, Any] | None:
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return {"name": torch.cuda.get_device_name(device), "compute_capability": f"{major}.{minor}"}


def _from_cuda_python(device: int) -> dict[str, Any] | None:
    try:  # cuda.bindings (12.6+) or the older cuda.cudart module
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # type: ignore[no-redef]
    err, prop = cudart.cudaGetDeviceProperties(device)
    if int(err) != 0:
        raise RuntimeError(f"cudaGetDeviceProperties: {err}")
    name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
    return {"name": name.rstrip("\x00"), "compute_capability": f"{prop.major}.{prop.minor}"}


def _from_pycuda(device: int) -> dict[str, Any] | None:
    import pycuda.driver as cuda

    cuda.init()
    dev = cuda.Device(device)
    major, minor = dev.compute_capability()
    return {"name": str(dev.name()), "compute_capability": f"{major}.{minor}"}


PROBES = (("torch.cuda", _from_torch), ("cuda-python", _from_cuda_python), ("pycuda", _from_pycuda))


def gpu_info(device: int = 0) -> dict[str, Any]:
    """``{"name": "Orin", "compute_capability": "8.7"}`` from the first probe that sees the GPU.

    Raises:
        BackendUnavailableError: no probe sees a CUDA device; the message gives each one's reason.
    """
    reasons = []
    for label, probe in PROBES:
        try:
            info = probe(device)
        except Exception as e:  # ImportError, a driver error, a bindings RuntimeError
            reasons.append(f"{label}: {type(e).__name__}: {str(e)[:120]}")
            continue
        if info is not None:
            return info
        reasons.append(f"{label}: no CUDA device")
    raise BackendUnavailableError(
        "no CUDA GPU can be queried (" + "; ".join(reasons) + "); TensorRT engines need one"
    )
