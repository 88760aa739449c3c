"""Which ONNX ops the TensorRT 10 ONNX parser cannot import: data, with its source.

Source: the operator support matrix ``docs/operators.md`` of onnx/onnx-tensorrt, in the revision
whose header reads "TensorRT 10.15 supports operators in the inclusive range of opset 9 to
opset 24". Every row marked ``N`` is in ``UNSUPPORTED``; ``RESTRICTIONS`` keeps the rows'
restrictions that a static check can see. Update ``TENSORRT_VERSION`` with the list.
"""

from __future__ import annotations

TENSORRT_VERSION = "10.15"
SOURCE = "onnx/onnx-tensorrt docs/operators.md (TensorRT 10.15 support matrix)"
OPSET_RANGE = (9, 24)

UNSUPPORTED: frozenset[str] = frozenset({
    "AffineGrid", "Bernoulli", "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor",
    "CenterCropPad", "Col2Im", "Compress", "ConcatFromSequence", "ConvInteger", "DFT", "Det",
    "DynamicQuantizeLinear", "ImageDecoder", "MatMulInteger", "MaxRoiPool", "MaxUnpool",
    "MelWeightMatrix", "Multinomial", "NegativeLogLikelihoodLoss", "Optional", "OptionalGetElement",
    "OptionalHasElement", "QLinearConv", "QLinearMatMul", "RegexFullMatch", "SequenceAt",
    "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength",
    "SequenceMap", "SoftmaxCrossEntropyLoss", "SplitToSequence", "StringConcat", "StringNormalizer",
    "StringSplit", "TfIdfVectorizer", "Unique",
})

RESTRICTIONS: dict[str, str] = {
    "DequantizeLinear": "x_zero_point must be zero (symmetric quantization)",
    "QuantizeLinear": "y_zero_point must be 0 (symmetric quantization)",
    "Resize": "modes nearest/linear only; no tf_crop_and_resize; no antialiasing",
    "LayerNormalization": "only the first output Y is supported",
    "ScatterND": "reduction other than none is not supported",
    "TopK": "sorted must be 1 and K < 3840",
}

RESIZE_MODES = frozenset({"nearest", "linear"})
RESIZE_COORDINATES = frozenset(
    {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
)
