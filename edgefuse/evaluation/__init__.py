"""Evaluating fusion methods and fused folders on datasets, and reporting the results."""

from edgefuse.evaluation.runner import Column, EvalResult, columns_from_args, evaluate_dataset

__all__ = ["Column", "EvalResult", "columns_from_args", "evaluate_dataset"]
