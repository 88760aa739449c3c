"""Export: PyTorch -> ONNX (static/dynamic H/W), simplification, FP16, INT8 Q/DQ, parity, sidecars."""

from edgefuse.export._io import StageResult
from edgefuse.export.config import ExportConfig, Precision
from edgefuse.export.fp16 import KEEP_FP32_OPS, convert_fp16
from edgefuse.export.int8 import quantize_int8
from edgefuse.export.onnx import check_exportable, export_onnx
from edgefuse.export.pipeline import ExportReport, run_export
from edgefuse.export.simplify import simplify_onnx

__all__ = [
    "KEEP_FP32_OPS",
    "ExportConfig",
    "ExportReport",
    "StageResult",
    "Precision",
    "check_exportable",
    "convert_fp16",
    "export_onnx",
    "quantize_int8",
    "run_export",
    "simplify_onnx",
]
