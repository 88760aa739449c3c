"""Sidecars: the JSON beside every exported artefact (``x.onnx.json``, ``x.plan.json``); one writer, one reader.

A sidecar says what the artefact is (precision, size rule, I/O), where it came from (the model
and its checksum), which tools made it and how it measured against its reference (parity). Export
writes ONNX sidecars and ``edgefuse build`` engine sidecars through :func:`write_sidecar`; the
backends, ``bench``, ``inspect`` and the engine guard read them through :func:`read_sidecar`.

Formats: ``edgefuse-artefact/1`` (ONNX; files written before the spelling was unified say
``edgefuse-artifact/1`` and ``"artifact"``, and still read) and ``edgefuse-engine/1`` (TensorRT plans).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from edgefuse.errors import DataError, EngineBuildError
from edgefuse.files import file_sha256, read_json_object, write_json_atomic

ONNX_FORMAT = "edgefuse-artefact/1"
ENGINE_FORMAT = "edgefuse-engine/1"
LEGACY_ONNX_FORMATS = ("edgefuse-artifact/1",)
ENGINE_SUFFIXES = (".plan", ".engine", ".trt")
TOOLS = ("edgefuse", "torch", "onnx", "onnxruntime", "onnxsim", "onnxslim", "onnxconverter-common", "tensorrt")


def sidecar_path(artefact: str | os.PathLike[str]) -> Path:
    """``x.onnx`` -> ``x.onnx.json``; ``x.plan`` -> ``x.plan.json``."""
    p = Path(artefact)
    return p.with_name(p.name + ".json")


def is_engine(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def tool_versions() -> dict[str, str | None]:
    """Installed versions of the export toolchain (``None`` where absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in TOOLS:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def onnx_io(path: str | os.PathLike[str]) -> dict[str, Any]:
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
    """Write ``<artefact>.json``: format, name, hash, size (plus I/O for ONNX), tools, time and ``fields``."""
    p = Path(artefact)
    doc: dict[str, Any] = {"format": ENGINE_FORMAT if is_engine(p) else ONNX_FORMAT, "artefact": p.name,
                           "sha256": file_sha256(p), "bytes": p.stat().st_size}
    if p.suffix == ".onnx":
        doc.update(onnx_io(p))
    doc.update(fields)
    doc.setdefault("tools", tool_versions())
    doc.setdefault("created", now_iso())
    return write_json_atomic(sidecar_path(p), doc)


def read_sidecar(artefact: str | os.PathLike[str], required: bool = False) -> dict[str, Any] | None:
    """The sidecar of ``artefact`` (``None`` when there is none and it is not ``required``).

    Raises:
        EngineBuildError: an engine sidecar that is missing (when required), unreadable or of another format
            (nothing else says which TensorRT version and GPU built a plan; plans are not portable).
        DataError: the same for an ONNX sidecar.
    """
    p = Path(artefact)
    sc = sidecar_path(p)
    engine = is_engine(p)
    err: type[Exception] = EngineBuildError if engine else DataError
    fix = ("rebuild it here with `edgefuse build --onnx MODEL.onnx` (plans are not portable)" if engine
           else "re-export it with `edgefuse export`, or delete the sidecar")
    if not sc.is_file():
        if not required:
            return None
        what = "which TensorRT version and GPU built it" if engine else "what the artefact is"
        raise err(f"{p} has no sidecar {sc.name}: nothing says {what}. {fix[0].upper()}{fix[1:]}")
    doc = read_json_object(sc, f"sidecar {sc}", fix, err)
    formats = (ENGINE_FORMAT,) if engine else (ONNX_FORMAT, *LEGACY_ONNX_FORMATS)
    if doc.get("format") not in formats:
        raise err(f"{sc} is not an edgefuse {'engine' if engine else 'artefact'} sidecar "
                  f"(format {doc.get('format')!r}, expected {formats[0]!r}); {fix}")
    if "artefact" not in doc and "artifact" in doc:  # the old spelling
        doc["artefact"] = doc["artifact"]
    return doc


def sidecar_value(artefact: str | os.PathLike[str], *keys: str, default: Any = None) -> Any:
    """One nested value of an artefact's sidecar (``default`` when there is no sidecar or no such key).

    For optional hints (precision, size rule, FP16 Q/DQ) read by the backends: a missing or broken
    sidecar there means "ask the artefact itself", never a failure.
    """
    try:
        doc: Any = read_sidecar(artefact)
    except (DataError, EngineBuildError):
        return default
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return default
        doc = doc[key]
    return doc
