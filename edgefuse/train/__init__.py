"""Training building blocks: DTPF fusion and distillation losses, paired crop datasets."""

from __future__ import annotations

from edgefuse.train.dataset import (
    FullImageDataset,
    PairedCropDataset,
    check_not_test,
    collate_samples,
    split_holdout,
)
from edgefuse.train.distill_loss import (
    STUDENT_FEATURE_CHANNELS,
    TEACHER_FEATURE_CHANNELS,
    DistillLoss,
    FeatureAdapters,
)
from edgefuse.train.losses import (
    IVF_DEFAULT_WEIGHTS,
    MEDICAL_DEFAULT_WEIGHTS,
    WEIGHT_KEYS,
    FusionLoss,
    check_weights,
    color_loss,
    consistency_loss,
    fusion_loss,
    gradient_max_loss,
    intensity_max_loss,
    ssim,
    ssim_loss,
)

__all__ = [
    "IVF_DEFAULT_WEIGHTS",
    "MEDICAL_DEFAULT_WEIGHTS",
    "STUDENT_FEATURE_CHANNELS",
    "TEACHER_FEATURE_CHANNELS",
    "WEIGHT_KEYS",
    "DistillLoss",
    "FeatureAdapters",
    "FullImageDataset",
    "FusionLoss",
    "PairedCropDataset",
    "check_not_test",
    "check_weights",
    "collate_samples",
    "color_loss",
    "consistency_loss",
    "fusion_loss",
    "gradient_max_loss",
    "intensity_max_loss",
    "split_holdout",
    "ssim",
    "ssim_loss",
]
