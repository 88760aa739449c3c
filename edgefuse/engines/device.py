"""The GPU an engine is built for or loaded on: name and compute capability."""

from __future__ import annotations

from typing import Any

from edgefuse.errors import BackendUnavailableError


def gpu_info(device: int = 0) -> dict[str, Any]:
    """``{"name": "Orin", "compute_capability": "8.7"}`` via torch.cuda or cuda-python.

    Raises:
        BackendUnavailableError: no CUDA device can be queried.
    """
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device)
            return {"name": torch.cuda.get_device_name(device), "compute_capability": f"{major}.{minor}"}
    except ImportError:
        pass
    try:  # cuda-python: cuda.bindings (12.6+) or the older cuda.cudart module
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # type: ignore[no-redef]
        err, prop = cudart.cudaGetDeviceProperties(device)
        if int(err) == 0:
            name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
            return {"name": name.rstrip("\x00"), "compute_capability": f"{prop.major}.{prop.minor}"}
    except ImportError:
        pass
    raise BackendUnavailableError(
        "no CUDA GPU can be queried (neither torch.cuda nor cuda-python sees one); TensorRT engines need one"
    )
