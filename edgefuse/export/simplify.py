"""Graph simplification: onnxsim first, onnxslim where onnxsim fails, the original graph if both fail."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgefuse.export._io import atomic_path
from edgefuse.export.onnx import constants_to_initializers, name_nodes

logger = logging.getLogger(__name__)

# A simplified graph must reproduce the original within this on one random input.
VERIFY_ATOL = 1e-5


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _onnxsim(model: "onnx.ModelProto") -> "onnx.ModelProto":  # noqa: F821
    import inspect

    import onnxsim

    # onnxsim 0.8 turns initializers into Constant nodes by default; weights stay initializers here
    known = inspect.signature(onnxsim.simplify).parameters
    kwargs = {"initializers_as_constants": False} if "initializers_as_constants" in known else {}
    simplified, ok = onnxsim.simplify(model, **kwargs)
    if not ok:
        raise RuntimeError("onnxsim's own check failed")
    return simplified


def _onnxslim(model: "onnx.ModelProto") -> "onnx.ModelProto":  # noqa: F821
    import onnxslim

    return onnxslim.slim(model)


TOOLS: dict[str, tuple[str, Callable]] = {"onnxsim": ("onnxsim", _onnxsim), "onnxslim": ("onnxslim", _onnxslim)}


def _random_feeds(model: "onnx.ModelProto") -> dict[str, np.ndarray]:  # noqa: F821
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in model.graph.input:
        dims = [d.dim_value if d.dim_value > 0 else 64 for d in inp.type.tensor_type.shape.dim]
        feeds[inp.name] = rng.random(dims, dtype=np.float32)
    return feeds


def _run(model: "onnx.ModelProto", feeds: dict[str, np.ndarray]) -> list[np.ndarray]:  # noqa: F821
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def simplify_onnx(path: str | os.PathLike[str], tools: tuple[str, ...] = ("onnxsim", "onnxslim")) -> str:
    """Simplify ``path`` in place with the first tool that works; return what was used.

    Each candidate must pass the ONNX checker and reproduce the original graph's output
    (max abs error <= 1e-5 on a random input); otherwise the next tool is tried and, if none
    works, the file is left as exported. The file is replaced atomically.

    Returns:
        e.g. ``"onnxsim 0.8.1"`` or ``"none (onnxsim: ...; onnxslim: ...)"``.
    """
    import onnx

    p = Path(path)
    original = onnx.load(str(p))
    feeds = _random_feeds(original)
    reference = _run(original, feeds)
    failures = []
    for key in tools:
        dist, fn = TOOLS[key]
        try:
            candidate = fn(onnx.load(str(p)))
            onnx.checker.check_model(candidate)
            got = _run(candidate, feeds)
            err = max(float(np.abs(a - b).max()) for a, b in zip(reference, got))
            if not err <= VERIFY_ATOL:
                raise RuntimeError(f"output changed by {err:.2e}")
        except Exception as e:  # ImportError, tool bugs, checker failures: try the next one
            failures.append(f"{key}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"[:200])
            logger.debug("%s could not simplify %s: %s", key, p, failures[-1])
            continue
        constants_to_initializers(candidate)
        name_nodes(candidate)
        with atomic_path(p) as tmp:
            onnx.save(candidate, str(tmp))
        used = f"{key} {_version(dist)}"
        logger.debug("simplified %s with %s (%d -> %d nodes)", p, used, len(original.graph.node),
                     len(candidate.graph.node))
        return used
    return "none (" + "; ".join(failures) + ")"
