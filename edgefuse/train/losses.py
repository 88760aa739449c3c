"""DTPF fusion losses (intensity-max, SSIM, gradient, colour, consistency) and their weighted sum.

Formulas follow PAPER_SPEC section 3, i.e. the DTPF code (``TextFusionLoss.compute_fusion_loss``
in ``models/loss_text_xrestormer.py`` of github.com/Zirconium233/DTPF, paper arXiv 2504.07029),
which extends the Text-IF loss family (Yi et al., CVPR 2024: max-intensity, SSIM, gradient and
colour terms) with a consistency term; the gradient-of-the-max term is also CDDFuse's
``Fusionloss`` (Zhao et al., CVPR 2023). This is an independent implementation.

All inputs are float tensors in [0, 1]: ``fused`` and ``vis`` (N, 3, H, W), ``ir`` (N, 1, H, W)
(a 3-channel IR is accepted as well). ``Y`` is BT.601 luma (identity for 1-channel tensors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgefuse.errors import ConfigError, ShapeMismatchError, did_you_mean

WEIGHT_KEYS = ("max", "consist", "grad", "ssim", "color", "ir_compose")
COMPONENTS = ("max", "consist", "grad", "ssim", "color")

# DTPF task-config "default" entries (PAPER_SPEC 2.4/2.5): the student/distillation weights and
# the teacher's fallback for unknown events. ``ir_compose`` is c inside L_consist, not a term.
IVF_DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"max": 24.0, "consist": 40.0, "grad": 48.0, "ssim": 2.0, "color": 12.0, "ir_compose": 1.0}
)
MEDICAL_DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"max": 40.0, "consist": 80.0, "grad": 72.0, "ssim": 4.0, "color": 12.0, "ir_compose": 1.0}
)

SSIM_WINDOW = 48
SSIM_SIGMA = 1.5
REDUCTIONS = ("mean", "none")

_LUMA = (0.299, 0.587, 0.114)
_CB = (-0.168736, -0.331264, 0.5)
_CR = (0.5, -0.418688, -0.081312)

Weights = Mapping[str, float] | Sequence[Sequence[Mapping[str, float]]] | None


# ----------------------------------------------------------------------------- helpers


def _mix(x: Tensor, coeffs: tuple[float, float, float]) -> Tensor:
    """Per-pixel linear combination of the 3 channels of an (N, 3, H, W) tensor -> (N, 1, H, W)."""
    return coeffs[0] * x[:, 0:1] + coeffs[1] * x[:, 1:2] + coeffs[2] * x[:, 2:3]


def luma(x: Tensor) -> Tensor:
    """BT.601 luma Y = 0.299R + 0.587G + 0.114B of an (N, 3, H, W) tensor; 1-channel passes through."""
    if x.shape[1] == 1:
        return x
    return _mix(x, _LUMA)


def chroma(x: Tensor) -> tuple[Tensor, Tensor]:
    """(Cb, Cr) of an (N, 3, H, W) RGB tensor, each (N, 1, H, W), without the +0.5 offset."""
    return _mix(x, _CB), _mix(x, _CR)


def _reduce(per_sample: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "none":
        return per_sample
    raise ConfigError(f"reduction={reduction!r} is not supported; use one of {', '.join(REDUCTIONS)}")


def _mean_per_sample(x: Tensor) -> Tensor:
    return x.flatten(1).mean(1)


def check_inputs(fused: Tensor, vis: Tensor, ir: Tensor) -> None:
    """Raise ``ShapeMismatchError`` unless fused/vis are (N,3,H,W) and ir is (N,1|3,H,W)."""
    for label, t in (("fused", fused), ("vis", vis), ("ir", ir)):
        if t.ndim != 4:
            raise ShapeMismatchError(f"{label} must be a 4-D (N, C, H, W) tensor, got shape {tuple(t.shape)}")
    if fused.shape != vis.shape or fused.shape[1] != 3:
        raise ShapeMismatchError(
            f"fused and vis must both be (N, 3, H, W); got fused {tuple(fused.shape)}, vis {tuple(vis.shape)}"
        )
    n, _, h, w = fused.shape
    if ir.shape[1] not in (1, 3) or (ir.shape[0], ir.shape[2], ir.shape[3]) != (n, h, w):
        raise ShapeMismatchError(
            f"ir must be (N, 1, H, W) = ({n}, 1, {h}, {w}) to match fused, got {tuple(ir.shape)}"
        )


# ----------------------------------------------------------------------------- the five terms


def intensity_max_loss(fused: Tensor, vis: Tensor, ir: Tensor, reduction: str = "mean") -> Tensor:
    """L_max = ||M*I + (1-M)*V - F||_1 with M = [mean_c(I) > mean_c(V)] per pixel (DTPF, Text-IF).

    Computed on RGB; a 1-channel IR broadcasts over the three channels.
    """
    mask = ir.mean(1, keepdim=True) > vis.mean(1, keepdim=True)
    target = torch.where(mask, ir, vis)
    return _reduce(_mean_per_sample((target - fused).abs()), reduction)


@lru_cache(maxsize=16)
def _gaussian_1d(size: int, sigma: float) -> Tensor:
    # Centre at size // 2 (for the even 48-tap window: taps -24..23), as in the pytorch-ssim
    # ``gaussian()`` helper that Text-IF and DTPF use; normalised to sum 1.
    taps = torch.tensor(
        [math.exp(-((x - size // 2) ** 2) / (2.0 * sigma**2)) for x in range(size)], dtype=torch.float64
    )
    return taps / taps.sum()


def ssim(
    x: Tensor,
    y: Tensor,
    window_size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Mean SSIM (Wang et al. 2004) of two (N, C, H, W) tensors with a Gaussian window, 'valid' conv.

    The 2-D window is the outer product of a 1-D Gaussian (centre ``size // 2``), applied per
    channel and separably (exactly the same weights as one 2-D conv, faster). C1 = (0.01 L)^2,
    C2 = (0.03 L)^2 with L = ``data_range`` (DTPF auto-detects L; for [0, 1] data that is 1).

    When a crop is smaller than ``window_size`` the window is clipped to ``min(window_size, H, W)``
    (the ``real_size`` rule of the pytorch-ssim helper), so the 'valid' map keeps at least one
    pixel. DTPF's loss passes its fixed 48x48 window and would fail on such crops instead; for
    crops >= 48 (DTPF trains on 128x128) both agree.

    Returns:
        Mean of the SSIM map per sample (N,) for ``reduction='none'``, else the batch mean.
    """
    if x.shape != y.shape:
        raise ShapeMismatchError(f"ssim needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    size = min(window_size, h, w)
    g = _gaussian_1d(size, float(sigma)).to(device=x.device, dtype=x.dtype)
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # 5C channels, one grouped conv each way
    k = 5 * c
    stats = F.conv2d(stats, g.view(1, 1, size, 1).expand(k, 1, size, 1), groups=k)
    stats = F.conv2d(stats, g.view(1, 1, 1, size).expand(k, 1, 1, size), groups=k)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    return _reduce(_mean_per_sample(ssim_map), reduction)


def ssim_loss(
    fused: Tensor, vis: Tensor, ir: Tensor, reduction: str = "mean", window_size: int = SSIM_WINDOW
) -> Tensor:
    """L_ssim = (1 - SSIM(V, F)) + (1 - SSIM(Y(I), Y(F))): V-term on RGB, IR-term on grey (DTPF)."""
    s_vis = ssim(vis, fused, window_size=window_size, reduction="none")
    s_ir = ssim(luma(ir), luma(fused), window_size=window_size, reduction="none")
    return _reduce((1.0 - s_vis) + (1.0 - s_ir), reduction)


_SOBEL = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def sobel_abs(y: Tensor) -> Tensor:
    """|Sobel_x|, |Sobel_y| of an (N, 1, H, W) tensor with replicate padding -> (N, 2, H, W)."""
    kx = torch.tensor(_SOBEL, device=y.device, dtype=y.dtype)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)  # ky = kx^T = [[-1,-2,-1],[0,0,0],[1,2,1]]
    return F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), kernels).abs()


def gradient_max_loss(fused: Tensor, vis: Tensor, ir: Tensor, reduction: str = "mean") -> Tensor:
    """L_grad = sum over d in {x, y} of || |d Y(F)| - max(|d Y(V)|, |d Y(I)|) ||_1 (Sobel, replicate pad)."""
    n = fused.shape[0]
    grads = sobel_abs(torch.cat([luma(fused), luma(vis), luma(ir)], dim=0))
    g_f, g_v, g_i = grads.split(n, dim=0)
    # mean over both directions equals (mean_x + mean_y) / 2
    return _reduce(2.0 * _mean_per_sample((g_f - torch.maximum(g_v, g_i)).abs()), reduction)


def color_loss(fused: Tensor, vis: Tensor, reduction: str = "mean") -> Tensor:
    """L_color = ||Cb(V) - Cb(F)||_1 + ||Cr(V) - Cr(F)||_1 (Cb, Cr are linear, so taken of V - F)."""
    d_cb, d_cr = chroma(vis - fused)
    return _reduce(_mean_per_sample(d_cb.abs()) + _mean_per_sample(d_cr.abs()), reduction)


def _consist_parts(fused: Tensor, vis: Tensor, ir: Tensor) -> tuple[Tensor, Tensor]:
    y_f = luma(fused)
    return _mean_per_sample((luma(vis) - y_f).abs()), _mean_per_sample((luma(ir) - y_f).abs())


def consistency_loss(
    fused: Tensor, vis: Tensor, ir: Tensor, ir_compose: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """L_consist = 1/2 (||Y(V) - Y(F)||_1 + c ||Y(I) - Y(F)||_1), c = ``ir_compose`` (DTPF only)."""
    to_vis, to_ir = _consist_parts(fused, vis, ir)
    return _reduce(0.5 * (to_vis + ir_compose * to_ir), reduction)


# ----------------------------------------------------------------------------- weighting


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validate a loss-weight dict: exactly the keys of ``WEIGHT_KEYS``, finite values >= 0."""
    if not isinstance(weights, Mapping):
        raise ConfigError(
            f"loss weights must be a dict with keys {', '.join(WEIGHT_KEYS)}, got {type(weights).__name__}"
        )
    unknown = [k for k in weights if k not in WEIGHT_KEYS]
    if unknown:
        key = str(unknown[0])
        raise ConfigError(
            f"unknown loss weight {key!r}.{did_you_mean(key, WEIGHT_KEYS)} "
            f"Valid keys: {', '.join(WEIGHT_KEYS)}."
        )
    missing = [k for k in WEIGHT_KEYS if k not in weights]
    if missing:
        raise ConfigError(
            f"loss weights lack {', '.join(missing)}; give all of {', '.join(WEIGHT_KEYS)} "
            f"(e.g. start from dict(IVF_DEFAULT_WEIGHTS))"
        )
    out: dict[str, float] = {}
    for k in WEIGHT_KEYS:
        v = weights[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"loss weight {k}={v!r} must be a finite number >= 0")
        out[k] = float(v)
    return out


def _coefficients(w: Mapping[str, float]) -> list[float]:
    """Coefficients of the raw terms (max, ssim, grad, color, consist_vis, consist_ir)."""
    c = check_weights(w)
    return [
        c["max"],
        c["ssim"],
        c["grad"],
        c["color"],
        0.5 * c["consist"],
        0.5 * c["consist"] * c["ir_compose"],
    ]


def _coefficient_rows(weights: Weights, n: int) -> list[list[float]]:
    if weights is None:
        return [_coefficients(IVF_DEFAULT_WEIGHTS)]
    if isinstance(weights, Mapping):
        return [_coefficients(weights)]
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise ConfigError(
            "weights must be None, one weight dict, or a list (per sample) of lists of weight dicts"
        )
    if len(weights) != n:
        raise ConfigError(f"per-sample weights list has {len(weights)} entries but the batch has {n} samples")
    rows = []
    for b, events in enumerate(weights):
        if isinstance(events, Mapping) or not isinstance(events, Sequence):
            raise ConfigError(
                f"weights[{b}] must be a list of weight dicts (one per event), got {type(events).__name__}"
            )
        per_event = [_coefficients(w) for w in events]
        # Mean over events; a sample with no events contributes 0 but still counts in the batch mean
        # (DTPF: sample_loss stays 0, total is divided by the batch size).
        rows.append(
            [sum(col) / len(per_event) for col in zip(*per_event, strict=True)] if per_event else [0.0] * 6
        )
    return rows


def fusion_loss(
    fused: Tensor, vis: Tensor, ir: Tensor, weights: Weights = None, window_size: int = SSIM_WINDOW
) -> tuple[Tensor, dict[str, Tensor]]:
    """L_fus = w_ssim L_ssim + w_max L_max + w_consist L_consist + w_color L_color + w_grad L_grad.

    Args:
        fused, vis: (N, 3, H, W) in [0, 1]; ir: (N, 1, H, W) in [0, 1].
        weights: ``None`` (``IVF_DEFAULT_WEIGHTS``), one weight dict for the whole batch (student /
            distillation, DTPF "default"), or the DTPF teacher form (PAPER_SPEC 2.5): a list with one
            entry per sample, each a list of per-event weight dicts. A sample's loss is then the mean
            of L_fus over its events (0 for an empty list), and the result is the mean over samples.
        window_size: SSIM window (48 in DTPF).

    Returns:
        (total, components): ``total`` is a scalar with grad; ``components`` maps ``max``,
        ``consist``, ``grad``, ``ssim``, ``color`` to detached weighted scalars that sum to total.

    Each term is computed once per sample; the per-event weighting is linear, so averaging the
    per-event coefficient vectors is exactly the mean over events of the weighted sums.
    """
    weighted = _weighted_terms(fused, vis, ir, weights, window_size).mean(0)  # (6,) batch means
    total = weighted.sum()
    parts = weighted.detach()
    components = {
        "max": parts[0],
        "ssim": parts[1],
        "grad": parts[2],
        "color": parts[3],
        "consist": parts[4] + parts[5],
    }
    return total, {k: components[k] for k in COMPONENTS}


def per_sample_fusion_loss(
    fused: Tensor, vis: Tensor, ir: Tensor, weights: Weights = None, window_size: int = SSIM_WINDOW
) -> Tensor:
    """L_fus of each sample, shape (N,): the values whose batch mean :func:`fusion_loss` returns."""
    return _weighted_terms(fused, vis, ir, weights, window_size).sum(1)


def _weighted_terms(fused: Tensor, vis: Tensor, ir: Tensor, weights: Weights, window_size: int) -> Tensor:
    """(N, 6): each sample's raw loss terms times its coefficients (see :func:`fusion_loss`)."""
    check_inputs(fused, vis, ir)
    n = fused.shape[0]
    to_vis, to_ir = _consist_parts(fused, vis, ir)
    raw = torch.stack(
        [
            intensity_max_loss(fused, vis, ir, "none"),
            ssim_loss(fused, vis, ir, "none", window_size),
            gradient_max_loss(fused, vis, ir, "none"),
            color_loss(fused, vis, "none"),
            to_vis,
            to_ir,
        ],
        dim=1,
    )  # (N, 6)
    coef = torch.tensor(_coefficient_rows(weights, n), device=raw.device, dtype=raw.dtype)
    return raw * coef


class FusionLoss(nn.Module):
    """Module form of :func:`fusion_loss` holding a default weight dict.

    Args:
        weights: default weights used when ``forward`` gets none (``IVF_DEFAULT_WEIGHTS``;
            ``MEDICAL_DEFAULT_WEIGHTS`` for CT/PET/SPECT-MRI).
        window_size: SSIM window size (48 as in DTPF).
    """

    def __init__(
        self, weights: Mapping[str, float] = IVF_DEFAULT_WEIGHTS, window_size: int = SSIM_WINDOW
    ) -> None:
        super().__init__()
        self.weights = check_weights(weights)
        if window_size < 1:
            raise ConfigError(f"window_size={window_size} must be >= 1")
        self.window_size = int(window_size)

    def forward(
        self, fused: Tensor, vis: Tensor, ir: Tensor, weights: Weights = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return (total, weighted components); ``weights`` overrides the default (see fusion_loss)."""
        return fusion_loss(fused, vis, ir, self.weights if weights is None else weights, self.window_size)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in self.weights.items()) + f", window_size={self.window_size}"
