"""Whether a forward runs eagerly or is being traced for ONNX."""

from __future__ import annotations

import torch


def exporting() -> bool:
    """Whether the forward is being traced for ONNX (the export forms run instead of the eager ones).

    Several layers have an export form: the same values (to float rounding) written as the ops
    that ONNX Runtime and TensorRT run fastest, while eager torch keeps the form that is fastest
    for it and that training uses. Each pair is tested for equality.
    """
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
