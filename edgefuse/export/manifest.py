"""Sidecar JSON for every artefact: where it came from, what it is, the tools, and its parity."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from edgefuse.export._io import sha256_file, write_json_atomic

FORMAT = "edgefuse-artifact/1"
TOOLS = ("edgefuse", "torch", "onnx", "onnxruntime", "onnxsim", "onnxslim", "onnxconverter-common", "tensorrt")


def tool_versions() -> dict[str, str | None]:
    """Installed versions of the export toolchain (``None`` where absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in TOOLS:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def sidecar_path(artefact: str | os.PathLike[str]) -> Path:
    """``x.onnx`` -> ``x.onnx.json``; ``x.plan`` -> ``x.plan.json``."""
    p = Path(artefact)
    return p.with_name(p.name + ".json")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def onnx_io(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Inputs and outputs of an ONNX file: shape (names for dynamic dims) and element type."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def spec(vi: Any) -> dict[str, Any]:
        dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        return {"shape": dims, "dtype": onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name,
                "range": [0.0, 1.0], "layout": "NCHW"}

    return {"inputs": {i.name: spec(i) for i in model.graph.input},
            "outputs": {o.name: spec(o) for o in model.graph.output},
            "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None)}


def write_sidecar(artefact: str | os.PathLike[str], **fields: Any) -> Path:
    """Write ``<artefact>.json`` with the artefact's hash, size, I/O, tools and ``fields``."""
    p = Path(artefact)
    doc: dict[str, Any] = {"format": FORMAT, "artifact": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
    if p.suffix == ".onnx":
        doc.update(onnx_io(p))
    doc.update(fields)
    doc.setdefault("tools", tool_versions())
    doc.setdefault("created", now_iso())
    return write_json_atomic(sidecar_path(p), doc)
