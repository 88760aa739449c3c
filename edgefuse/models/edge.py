"""Edge students: small CNNs that predict how to blend IR and visible luminance, per pixel.

Design (ours, for live 640x480 video on a Jetson and on CPUs):

* Colour is handled analytically. The network fuses luminance only: Y of BT.601. The
  output is ``vis + (Y_fused - Y_vis)`` on all three channels, which keeps the visible Cb and
  Cr exactly (their BT.601 coefficients sum to zero) — the same result as replacing Y in
  YCbCr, without a colour conversion in the graph.
* The fused luminance is a per-pixel blend of base layers plus weighted detail layers::

      Y_f = w * B(ir) + (1 - w) * B(Y) + a * D(ir) + b * D(Y) + r

  with B a fixed 5x5 binomial low-pass, D = x - B(x), ``w`` in [0, 1] and the detail gains
  ``a``, ``b`` in [0, 2] predicted at half resolution and upsampled bilinearly, and ``r`` a
  small full-resolution residual. With w = 1, a = 1, b = 0 the output is the IR image, so
  every pixel-selection rule (max, choose-max-detail, ...) is reachable, and detail gains
  above one let the network sharpen.
* All learned convolutions run at 1/2, 1/4 and 1/8 resolution except the tiny residual
  branch, which keeps the compute far below the DTPF student (see ``edgefuse list``).

The blend-weight formulation follows the measurement quoted in the project's issue 3 (a
per-pixel blend weight beat direct pixel prediction at this size); the base/detail split is
the classical two-scale decomposition (e.g. Bavirisetti & Dhuli, "Two-scale image fusion of
visible and infrared images using saliency detection", Infrared Phys. Technol. 2016).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edgefuse.errors import ConfigError
from edgefuse.models.contract import FusionModel
from edgefuse.models.layers.guide import PriorGuide, TextGuide
from edgefuse.models.layers.tracing import exporting

_LUMA = (0.299, 0.587, 0.114)
_BINOMIAL5 = (1.0, 4.0, 6.0, 4.0, 1.0)
_BLOCK = 8  # block size of the IR black/white level statistics
_MIN_RANGE = 1.0 / 255.0  # smallest white level and range the clamp divides by
_PEDESTAL_FROM, _PEDESTAL_FULL = 0.25, 0.40  # black/white ratio where the clamp starts and is complete
# Immerkaer's noise estimate: sigma = sqrt(pi / 2) / 6 * mean |x * N| with N the 3x3 kernel below
_IMMERKAER = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
_NOISE_SCALE = (3.141592653589793 / 2.0) ** 0.5 / 6.0
# noise level on the flat pixels where the shrinkage starts (it is complete at twice that), from the clean
# msrs/train + roadscene/train images (python benchmarks/noise_levels.py): IR 0.0025, the 95th percentile;
# visible channels 0.0050, the largest level of any clean image (pooled over R, G, B). The visible levels
# have a long tail (95th percentile 0.0020, max 0.0050; 19 of the 201 clean pairs have a channel above
# 0.0020), and a full-reference metric scores the fusion of a clean but grainy capture against that
# grainy capture, so the visible stage starts above every clean training image; 95 % of the training
# splits' low_light pairs of severity 1-3 are estimated above it (5th percentiles 0.0053-0.0205,
# benchmarks/results/noise_levels.md)
_NOISE_FROM = (0.0025, 0.005, 0.005, 0.005)  # IR, then the visible R, G, B
# noise variance subtracted, in units of the estimate: 2 of 1, 2, 4 on suites of the training splits
# (python benchmarks/noise_factor.py)
_NOISE_FACTOR = 2.0
_ENERGY_FLOOR = 2.0**-14  # smallest local detail energy the Wiener gain divides by
# column stripes: each column's offset is a trimmed mean over rows of the horizontal detail (the image minus
# a 1x9 box along the row), so that vertical edges do not count (see EdgeFuseNet.stripe_profile); the
# removal starts where the mean |offset| passes the 95th percentile over the clean msrs/train +
# roadscene/train IR, 0.0026 (max 0.0051; severity-1 ir_noise stripes give 0.0064 and more), and is
# complete at twice that (python benchmarks/noise_levels.py)
_STRIPE_WIDTH, _STRIPE_CLIP, _STRIPE_FROM = 9, 3.0, 0.0026
# over-exposure: a visible pixel is clipped at luminance 254/255 or above; the hand-over to the IR starts where
# the share of clipped pixels in the 31x31 window around a pixel passes 0.5 and is complete where the whole
# window is clipped (the inside of a white region, where the visible holds no information). The window and
# the start were chosen among (15, 0.7), (9, 0.95) and (31, 0.5) on the over-exposure suites of msrs/train,
# roadscene/train and m3svd/stream and their clean pairs (benchmarks/results/vis_exposure_train.md)
_CLIP_LEVEL, _CLIP_WINDOW, _CLIP_FROM = 254.0 / 255.0, 31, 0.5
_DESCRIPTOR = 12  # numbers per pair in EdgeFuseNet.descriptor
_PRIOR_HIDDEN = 16  # hidden width of the student prior's MLP
_DARK_LEVEL = 16.0 / 255.0  # a visible pixel under this luminance counts as dark
_LOG_FLOOR = 1e-4  # the descriptor's noise and edge levels are taken as log10(level + floor)


class DWBlock(nn.Module):
    """Residual depthwise-separable block: DW3x3 -> ReLU -> PW1x1 (+ x)."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels)
        self.pw = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw(F.relu(self.dw(x)))


class Down(nn.Module):
    """Stride-2 depthwise 3x3 followed by a 1x1 channel change."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride=2, padding=1, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.pw(self.dw(x)))


def _up_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class EdgeFuseNet(FusionModel):
    """Edge student: context CNN at 1/2-1/8 resolution, analytic full-resolution blend.

    Args:
        widths: Channels at 1/2, 1/4 and 1/8 resolution.
        depths: Residual blocks per level (the 1/8 level uses dilation 2).
        residual_channels: Hidden channels of the full-resolution residual branch
            (0 disables it).
        residual_kernel: Kernel of the branch's output conv; 1 for the edge students (a
            3x3 conv with one output channel at full resolution cost ONNX Runtime 8 ms of
            a 42 ms frame at 480x640 on 2 CPU cores).
        clamp_output: Clip the output to [0, 1] (one Clip node in ONNX).
        text_dim: Width of a text embedding for a *teacher*: FiLM guides (DTPF's Guide MLP,
            applied residually as ``x + gamma * x + beta`` like Text-IF, so that an untrained
            guide starts as the identity) modulate the four decoder insertion points (1/8,
            1/4, 1/2 resolution and the full-resolution branch). ``None`` (students): no
            text modules at all.
        ir_gain: Stretch the IR contrast per image before fusing: ``ir' = m + g (ir - m)`` with
            ``m`` the IR mean and a gain ``g`` in [0.22, 4.5] predicted from the image statistics
            (mean and standard deviation of IR and visible luminance; a 4-8-1 MLP whose last layer
            starts at zero, so ``g = 1`` and the network starts as without it). A text-free student
            cannot be told "the IR is washed out" the way the teacher is; this lets it see it.
            Six ReduceMean-class ops in ONNX, no full-resolution convolution.
        ir_black_level: Remove a raised IR pedestal per image before fusing (no parameters). With
            ``lo`` and ``hi`` the darkest and brightest 8x8 block means of the IR and ``rho = lo / hi``,
            ``ir' = (ir - s lo) hi / (hi - s lo)`` with the strength ``s`` ramping from 0 at
            ``rho = 0.25`` to 1 at ``rho = 0.40``. A washed-out thermal image (a narrow AGC
            window, fog, a flat scene) sits on a pedestal that is a large fraction of its white
            level; this maps it back to black and keeps the white point. The thresholds come from
            the training splits: ``rho`` of clean IR is 0 in msrs/train and at most 0.25 in 95 % of
            roadscene/train (max 0.36); ``ir_low_contrast`` severity 1 gives 0.20-0.60, severity
            2 0.39-0.68. Blocks, not pixels, so that noise does not move ``lo``. ONNX: one
            AveragePool, a ReduceMin, a ReduceMax and a few element-wise ops on (N, 1, 1, 1).
            Frames above the tiling limit (:mod:`edgefuse.tiling`) get the statistics of each
            tile, as the global context does.
        ir_denoise: Shrink sensor noise in the IR before fusing (no parameters): a Wiener gain on
            the 5x5 detail band (Lee's local-statistics filter), with the noise level from
            Immerkaer's estimator ("Fast noise variance estimation", CVIU 1996), switched on only
            when the level on the flat pixels is above that of 95 % of the clean training images
            (see ``_shrink``; ``benchmarks/noise_levels.py``). A text-free student cannot be told
            "the IR is noisy"; it amplifies the noise with its detail gains instead. Frames below
            the start level pass unchanged. ONNX: a 3x3 noise and a Sobel conv at stride 4, two
            5x5 AveragePools and element-wise ops at full resolution.
        vis_denoise: The same for each visible channel (noisy low-light cameras), from a start
            level above every clean training image (``_NOISE_FROM``): clean captures keep their
            grain, which full-reference metrics score the fusion against.
        noise_factor: The noise variance the denoising subtracts, in units of the estimate.
        noise_start: The start levels (IR, R, G, B) of the denoising, for data other than the IVF
            training splits they come from (the medical student's are its own training split's).
        ir_destripe: Remove column stripes (the fixed-pattern noise of uncooled microbolometer
            arrays) from the IR before fusing (no parameters): each column's offset is a trimmed mean
            over rows of the row-direction detail band (vertical edges do not count,
            :meth:`stripe_profile`), subtracted once its mean size passes that of 95 % of the clean
            training IR (``_destripe``). The Immerkaer kernel annihilates a column-constant offset,
            so the denoising's estimate is blind to stripes and its Wiener gain leaves them. ONNX: a
            1x9 AveragePool, row ReduceMean/ReduceSum and element-wise ops.
        stripe_start: The start level of the destriping, for other sensors.
        vis_exposure: Hand the inside of white visible regions to the IR (no parameters). Where the share
            of visible pixels clipped at white (luminance at 254/255 or above) in the 31x31 window around a
            pixel passes ``clip_start`` (0.5), the blend weight and the IR detail gain move towards the IR's
            (``w -> 1``, ``a -> 1``), fully where the whole window is clipped: there the visible holds no
            information, and the IR is the only source left. A text-free student cannot be told "the
            visible is over-exposed"; trained on clean pairs, it reads a bright visible as the informative
            source and drops the IR (on the training splits' over-exposure suites its mean blend weight
            falls from 0.27 to 0.03 on msrs and 0.65 to 0.32 on roadscene). Local, not per frame: a
            frame-level trigger (the clipped share of the whole frame above that of every clean training
            image, handing every bright region over by Mertens' well-exposedness) fired on clean frames of
            other cameras and lost 0.21 VIF on m3svd/stream's over-exposure suite
            (``benchmarks/results/vis_exposure_frame_train.md``). Not in the shipped default (clean frames
            with large white regions lose a little); the card ``benchmarks/results/weights/edge_nano_ivf_exposure``
            turns it on. ONNX: a Less, two AveragePools (31x1, 1x31) and element-wise ops at full resolution.
        clip_start: The local share of clipped pixels where ``vis_exposure`` starts, in (0, 1).
        prior_dim: A *student's* own degradation prior (``None``: none). The student cannot be told the
            degradation as the teacher is; with ``prior_dim`` it reads it from the inputs: a 12-number
            descriptor of each raw pair (:meth:`descriptor`: IR and visible mean, spread, black/white block
            ratio, clipped and dark shares, flat-pixel noise level and edge energy) feeds a 12-16-``prior_dim``
            MLP whose output takes the place of the teacher's text embedding at the same four insertion
            points, each a one-layer FiLM (``PriorGuide``), drives a per-image IR contrast gain (as
            ``ir_gain``) and shifts the three head logits per image (so the prior can choose the source for
            the whole frame, as the teacher's text does). The FiLM layers, the gain and the shift start at
            zero, so the network starts as the plain student. ``edgefuse distill
            --prior-share`` trains the prior to predict the teacher's (centred) text embedding through a
            linear probe, the textual prior distilled into the student's own. ONNX: reductions on the inputs
            (a stride-4 noise and Sobel conv, an 8x8 AveragePool) and per-channel scales.
    """

    size_multiple = 1
    decision_maps = True  # forward(..., return_features=True, return_maps=True) gives the blend maps too

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 48),
        depths: Sequence[int] = (1, 2, 2),
        residual_channels: int = 8,
        clamp_output: bool = True,
        text_dim: int | None = None,
        residual_kernel: int = 3,
        ir_gain: bool = False,
        ir_black_level: bool = False,
        ir_denoise: bool = False,
        vis_denoise: bool = False,
        noise_factor: float = _NOISE_FACTOR,
        noise_start: Sequence[float] | None = None,
        ir_destripe: bool = False,
        stripe_start: float = _STRIPE_FROM,
        vis_exposure: bool = False,
        clip_start: float = _CLIP_FROM,
        prior_dim: int | None = None,
    ) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.clamp_output = clamp_output
        self.text_dim = text_dim
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1), persistent=False)
        k = torch.tensor(_BINOMIAL5)
        k2 = torch.outer(k, k) / k.sum() ** 2
        self.register_buffer("lowpass", k2.expand(2, 1, 5, 5).clone(), persistent=False)
        k1 = k / k.sum()  # the 5x5 binomial is separable: export runs it as 5x1 then 1x5
        self.register_buffer("lowpass_rows", k1.view(1, 1, 5, 1).expand(2, 1, 5, 1).clone(), persistent=False)
        self.register_buffer("lowpass_cols", k1.view(1, 1, 1, 5).expand(2, 1, 1, 5).clone(), persistent=False)
        self.stem = nn.Conv2d(4, w0, 3, stride=2, padding=1)
        self.enc0 = nn.Sequential(*(DWBlock(w0) for _ in range(depths[0])))
        self.down1, self.enc1 = Down(w0, w1), nn.Sequential(*(DWBlock(w1) for _ in range(depths[1])))
        self.down2, self.enc2 = Down(w1, w2), nn.Sequential(*(DWBlock(w2, 2) for _ in range(depths[2])))
        self.context = nn.Sequential(nn.Conv2d(w2, w2, 1), nn.Sigmoid())
        self.lat1, self.dec1 = nn.Conv2d(w2, w1, 1), DWBlock(w1)
        self.lat0, self.dec0 = nn.Conv2d(w1, w0, 1), DWBlock(w0)
        self.head = nn.Conv2d(w0, 3, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # start as w = 0.5, a = b = 1: average base, both details
        self.residual = None
        if residual_channels:
            self.residual = nn.Sequential(
                nn.Conv2d(3, residual_channels, 3, padding=1), nn.ReLU(),
                nn.Conv2d(residual_channels, 1, residual_kernel, padding=residual_kernel // 2),
            )
            nn.init.zeros_(self.residual[2].weight)
            nn.init.zeros_(self.residual[2].bias)
        self.feature_channels = (w2, w1, w0, residual_channels or w0)
        self.ir_gain = None
        if ir_gain:
            self.ir_gain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
            nn.init.zeros_(self.ir_gain[2].weight)
            nn.init.zeros_(self.ir_gain[2].bias)
        self.ir_black_level = ir_black_level
        self.ir_denoise, self.vis_denoise, self.noise_factor = ir_denoise, vis_denoise, float(noise_factor)
        self.register_buffer("noise_kernel", torch.tensor(_IMMERKAER).expand(4, 1, 3, 3).clone(), persistent=False)
        sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
        self.register_buffer("sobel", torch.stack([sobel, sobel.t()] * 4).view(8, 1, 3, 3), persistent=False)
        start = tuple(float(v) for v in (noise_start if noise_start is not None else _NOISE_FROM))
        if len(start) != 4 or min(start) <= 0:
            raise ConfigError(f"noise_start takes 4 positive levels (IR, R, G, B), got {list(start)}")
        self.register_buffer("noise_from", torch.tensor(start).view(1, 4, 1, 1), persistent=False)
        self.ir_destripe = ir_destripe
        if isinstance(stripe_start, bool) or not isinstance(stripe_start, (int, float)) or not stripe_start > 0:
            raise ConfigError(f"stripe_start takes a positive level, got {stripe_start!r}")
        self.stripe_start = float(stripe_start)
        self.vis_exposure = vis_exposure
        if isinstance(clip_start, bool) or not isinstance(clip_start, (int, float)) or not 0 < clip_start < 1:
            raise ConfigError(f"clip_start takes a share of pixels in (0, 1), got {clip_start!r}")
        self.clip_start = float(clip_start)
        self.guides = None
        if text_dim is not None and prior_dim is not None:
            raise ConfigError("prior_dim is a student's own prior: a text-guided teacher (text_dim) takes its text")
        if prior_dim is not None and (isinstance(prior_dim, bool) or not isinstance(prior_dim, int) or prior_dim < 1):
            raise ConfigError(f"prior_dim takes a positive integer, got {prior_dim!r}")
        if (text_dim is not None or prior_dim is not None) and not residual_channels:
            raise ConfigError("a guided EdgeFuseNet needs residual_channels > 0 for its fourth guide")
        if text_dim is not None:
            self.guides = nn.ModuleList(TextGuide(text_dim, c) for c in self.feature_channels)
        self.prior_dim = prior_dim
        self.prior_head = self.prior_gain = self.prior_bias = None
        if prior_dim is not None:  # guides, gain and shift start at zero: the network starts as the plain student
            self.guides = nn.ModuleList(PriorGuide(prior_dim, c) for c in self.feature_channels)
            self.prior_head = nn.Sequential(nn.Linear(_DESCRIPTOR, _PRIOR_HIDDEN), nn.ReLU(),
                                            nn.Linear(_PRIOR_HIDDEN, prior_dim), nn.Tanh())
            self.prior_gain = nn.Linear(prior_dim, 1)
            nn.init.zeros_(self.prior_gain.weight)
            nn.init.zeros_(self.prior_gain.bias)
            # a per-image shift of the three head logits: lets the prior choose the source for the whole
            # frame (the teacher's text switches between IR-only and visible-only blends per degradation)
            self.prior_bias = nn.Linear(prior_dim, 3)
            nn.init.zeros_(self.prior_bias.weight)
            nn.init.zeros_(self.prior_bias.bias)

    def _guide(self, level: int, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        if self.guides is None:
            return x
        return x + self.guides[level](x, text)

    # The three full-resolution steps below have an export form (same values, tested in
    # tests/models/test_edge.py). ONNX Runtime's CPU layout (NCHWc, blocks of 8 channels on
    # AVX2) pads a 1- or 3-channel conv output to 8 channels and then runs the Resize and
    # Sigmoid that follow on all 8. ONNX Runtime 1.32, 2 threads, 480x640, the two graphs timed
    # one after the other: edge_nano 32.1 -> 27.5 ms (p50 of 60 runs). Eager torch keeps the
    # plain forms, which are as fast there (equal within noise).

    def _luminance(self, vis: torch.Tensor) -> torch.Tensor:
        """BT.601 Y of ``vis``; exported as one (1x3) @ (3 x H*W) MatMul instead of a 3->1 conv."""
        if not exporting():
            return F.conv2d(vis, self.luma)
        n, _, h, w = vis.shape
        return (self.luma.view(1, 3) @ vis.reshape(n, 3, h * w)).reshape(n, 1, h, w)

    def _blend_maps(self, head: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """sigmoid(bilinear upsample of the head); exported with the 3 maps as batch, one channel each."""
        if not exporting():
            return torch.sigmoid(_up_to(head, ref))
        n, c, h, w = head.shape
        maps = torch.sigmoid(_up_to(head.reshape(n * c, 1, h, w), ref))
        return maps.reshape(n, c, ref.shape[2], ref.shape[3])

    def _lowpass(self, padded: torch.Tensor) -> torch.Tensor:
        """5x5 binomial of each channel of the replicate-padded (ir, Y); exported as 5x1 then 1x5."""
        if not exporting():
            return F.conv2d(padded, self.lowpass, groups=2)
        return F.conv2d(F.conv2d(padded, self.lowpass_rows, groups=2), self.lowpass_cols, groups=2)

    def _stretch_ir(self, ir: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``m + g (ir - m)``, clipped to [0, 1], with the per-image gain ``g`` of ``ir_gain``."""
        assert self.ir_gain is not None
        m_ir, m_y = ir.mean(dim=(2, 3)), y.mean(dim=(2, 3))
        s_ir = ((ir - m_ir[:, :, None, None]) ** 2).mean(dim=(2, 3)).clamp_min(1e-8).sqrt()
        s_y = ((y - m_y[:, :, None, None]) ** 2).mean(dim=(2, 3)).clamp_min(1e-8).sqrt()
        gain = torch.exp(1.5 * torch.tanh(self.ir_gain(torch.cat([m_ir, s_ir, m_y, s_y], dim=1))))
        return (m_ir[:, :, None, None] + gain[:, :, None, None] * (ir - m_ir[:, :, None, None])).clamp(0.0, 1.0)

    @staticmethod
    def _block_levels(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Darkest and brightest 8x8 block mean of each image and channel (N,C,1,1); the brightest floored at 1/255."""
        # an export always pools (its smallest dynamic size is above one block); eager takes tiny inputs as they are
        tiny = not exporting() and min(x.shape[-2:]) < _BLOCK
        blocks = x if tiny else F.avg_pool2d(x, _BLOCK)
        return blocks.amin(dim=(2, 3), keepdim=True), blocks.amax(dim=(2, 3), keepdim=True).clamp_min(_MIN_RANGE)

    @staticmethod
    def _remove_black_level(ir: torch.Tensor) -> torch.Tensor:
        """``(ir - s lo) hi / (hi - s lo)``: ``lo``/``hi`` the min/max 8x8 block mean, ``s`` the ramp of ``lo / hi``."""
        lo, hi = EdgeFuseNet._block_levels(ir)
        strength = ((lo / hi - _PEDESTAL_FROM) / (_PEDESTAL_FULL - _PEDESTAL_FROM)).clamp(0.0, 1.0)
        pedestal = strength * lo
        return ((ir - pedestal) * (hi / (hi - pedestal).clamp_min(_MIN_RANGE))).clamp(0.0, 1.0)

    def noise_levels(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Immerkaer's noise estimate of each image and channel of ``x`` (N,C,H,W): over the flat pixels, over all.

        Flat: Sobel magnitude below its mean, so that texture does not count as noise. Both estimates
        use every fourth pixel in both directions (stride 4); (N,C,1,1) each.
        """
        c = x.shape[1]
        resp = F.conv2d(x, self.noise_kernel[:c], stride=4, groups=c).abs()
        grad = F.conv2d(x, self.sobel[: 2 * c], stride=4, groups=c).abs()
        n, _, h, w = grad.shape
        grad = grad.reshape(n, c, 2, h, w).sum(dim=2)
        # 1 on the flat pixels, 0 elsewhere
        flat = torch.where(grad < grad.mean(dim=(2, 3), keepdim=True), 1.0, 0.0)
        count = flat.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
        sigma_flat = _NOISE_SCALE * (resp * flat).sum(dim=(2, 3), keepdim=True) / count
        return sigma_flat, _NOISE_SCALE * resp.mean(dim=(2, 3), keepdim=True)

    def _shrink(self, x: torch.Tensor, first: int) -> torch.Tensor:
        """``x + (g - 1) d`` per image and channel of ``x`` (N,C,H,W), ``d = x - box5(x)``.

        ``x`` holds channels ``first`` to ``first + C`` of (IR, R, G, B), for their start levels.

        ``g = 1 - k s sigma^2 / box5(d^2)`` (``k = noise_factor``, 2), clipped to [0, 1] (a Wiener gain
        on the 5x5 detail band, as Lee's local-statistics filter), with ``sigma`` the noise estimate
        over the image and the strength ``s`` ramping from 0 to 1 as the estimate over the flat pixels
        goes from the channel's start level to twice it (:meth:`noise_levels`). ``s = 0`` returns ``x``
        unchanged, and so do images under 8 pixels a side in eager mode (too small to estimate noise on).
        """
        if not exporting() and min(x.shape[-2:]) < _BLOCK:
            return x
        sigma_flat, sigma = self.noise_levels(x)
        start = self.noise_from[:, first : first + x.shape[1]]
        strength = ((sigma_flat - start) / start).clamp(0.0, 1.0)
        detail = x - F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
        energy = F.avg_pool2d(detail * detail, 5, stride=1, padding=2, count_include_pad=False)
        # floor 2^-14, FP16's smallest normal number: an FP16 engine that flushes subnormals never
        # divides 0 by 0 in a flat region (0 / floor = 0, so s = 0 still returns x unchanged)
        gain = (1.0 - self.noise_factor * strength * sigma * sigma / energy.clamp_min(_ENERGY_FLOOR)).clamp(0.0, 1.0)
        return x + (gain - 1.0) * detail

    def stripe_profile(self, ir: torch.Tensor) -> torch.Tensor:
        """Column offsets (N,1,1,W) of ``ir`` (N,1,H,W): trimmed means over rows of ``d = ir - box1x9(ir)``.

        Two passes. The first keeps the pixels with ``|d|`` under 3 noise sigmas (Immerkaer, floored at
        1/255) plus 3 RMS of the plain column means: a column offset larger than the noise stays in (a
        noise-only window would drop every pixel of its column), and strong vertical edges drop out. The
        second keeps the pixels within 3 noise sigmas of the first estimate.
        """
        _, sigma = self.noise_levels(ir)
        across = F.avg_pool2d(ir, (1, _STRIPE_WIDTH), stride=1, padding=(0, _STRIPE_WIDTH // 2),
                              count_include_pad=False)
        detail = ir - across
        limit = _STRIPE_CLIP * sigma.clamp_min(_MIN_RANGE)
        plain = detail.mean(dim=2, keepdim=True)
        spread = _STRIPE_CLIP * (plain * plain).mean(dim=3, keepdim=True).sqrt()
        # a trimmed mean centred on 0, its window widened by 3x the RMS of the plain column means, so
        # that stripes larger than the noise stay in; then one centred on that estimate with the noise window
        keep = torch.where(detail.abs() < limit + spread, 1.0, 0.0)
        offset = (detail * keep).sum(dim=2, keepdim=True) / keep.sum(dim=2, keepdim=True).clamp_min(1.0)
        keep = torch.where((detail - offset).abs() < limit, 1.0, 0.0)
        offset = (detail * keep).sum(dim=2, keepdim=True) / keep.sum(dim=2, keepdim=True).clamp_min(1.0)
        return offset

    def _destripe(self, ir: torch.Tensor) -> torch.Tensor:
        """``ir - s p`` clipped to [0, 1], ``p`` the :meth:`stripe_profile`.

        The strength ``s`` ramps from 0 to 1 as the mean ``|p|`` goes from the start level to twice it:
        clean frames pass unchanged, and so do images under 8 pixels a side in eager mode.
        """
        if not exporting() and min(ir.shape[-2:]) < _BLOCK:
            return ir
        profile = self.stripe_profile(ir)
        level = profile.abs().mean(dim=3, keepdim=True)
        strength = ((level - self.stripe_start) / self.stripe_start).clamp(0.0, 1.0)
        return (ir - strength * profile).clamp(0.0, 1.0)

    def overexposure(self, y: torch.Tensor) -> torch.Tensor:
        """How far (N,1,H,W) in [0, 1] ``vis_exposure`` moves the blend towards the IR at each pixel.

        ``clamp((c - clip_start) / (1 - clip_start), 0, 1)`` with ``c`` the share of pixels of ``y`` at 254/255
        or above in the 31x31 window around the pixel (a box filter, as two separable AveragePools that do
        not count the border padding): 0 outside and at the rim of white regions, 1 inside them.
        """
        clipped = torch.where(y < _CLIP_LEVEL, 0.0, 1.0)  # Less, as the other stages
        r = _CLIP_WINDOW // 2
        share = F.avg_pool2d(clipped, (_CLIP_WINDOW, 1), 1, (r, 0), count_include_pad=False)
        share = F.avg_pool2d(share, (1, _CLIP_WINDOW), 1, (0, r), count_include_pad=False)
        return ((share - self.clip_start) / (1.0 - self.clip_start)).clamp(0.0, 1.0)

    def descriptor(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """(N, 12) statistics of each raw pair that tell the degradations apart, for the student's prior.

        Per source, each as an (IR, visible luminance) pair: mean, standard deviation, the darkest over the brightest
        8x8 block mean (a raised pedestal: washed-out IR), the flat-pixel noise level and the mean Sobel
        magnitude over the standard deviation (edge energy: blur lowers it, noise raises it), both as
        ``log10(level + 1e-4)`` (:meth:`noise_levels`, stride 4); then the visible shares of clipped
        (254/255 and above: over-exposure) and dark (under 16/255: low light) pixels.
        """
        y = self._luminance(vis)
        src = torch.cat([ir, y], dim=1)
        mean = src.mean(dim=(2, 3), keepdim=True)
        std = ((src - mean) ** 2).mean(dim=(2, 3), keepdim=True).clamp_min(1e-8).sqrt()
        lo, hi = self._block_levels(src)
        sigma_flat, _ = self.noise_levels(src)
        grad = F.conv2d(src, self.sobel[:4], stride=4, groups=2).abs()
        n, _, h, w = grad.shape
        edges = grad.reshape(n, 2, 2, h, w).sum(dim=2).mean(dim=(2, 3), keepdim=True) / std
        clipped = torch.where(y < _CLIP_LEVEL, 0.0, 1.0).mean(dim=(2, 3), keepdim=True)
        dark = torch.where(y < _DARK_LEVEL, 1.0, 0.0).mean(dim=(2, 3), keepdim=True)
        per_source = [mean, std, lo / hi, torch.log10(sigma_flat + _LOG_FLOOR), torch.log10(edges + _LOG_FLOOR)]
        return torch.cat([*per_source, clipped, dark], dim=1).reshape(n, _DESCRIPTOR)

    def degradation_prior(self, vis: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        """The student's own prior (N, ``prior_dim``) from the raw pair: the MLP on :meth:`descriptor`."""
        assert self.prior_head is not None, "degradation_prior needs prior_dim"
        return self.prior_head(self.descriptor(vis, ir))

    def _context(self, y: torch.Tensor, ir: torch.Tensor, text: torch.Tensor | None) -> list[torch.Tensor]:
        # stem input: both images and their difference/product cues, 4 channels
        x = torch.cat([y, ir, ir - y, ir * y], dim=1)
        f0 = self.enc0(F.relu(self.stem(x)))
        f1 = self.enc1(self.down1(f0))
        f2 = self.enc2(self.down2(f1))
        f2 = self._guide(0, f2 * self.context(f2.mean(dim=(2, 3), keepdim=True)), text)
        d1 = self._guide(1, self.dec1(f1 + _up_to(self.lat1(f2), f1)), text)
        d0 = self._guide(2, self.dec0(f0 + _up_to(self.lat0(d1), f0)), text)
        return [f2, d1, d0]

    def forward(
        self, vis: torch.Tensor, ir: torch.Tensor, text: torch.Tensor | None = None,
        return_features: bool = False, return_maps: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]] | tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Fuse ``vis`` (N,3,H,W) and ``ir`` (N,1,H,W) in [0,1] into (N,3,H,W) RGB.

        ``text`` (N, text_dim) is required by a teacher (``text_dim`` set) and refused by a
        student, as for every :class:`FusionModel`. With ``return_features`` the features are
        [1/8, 1/4, 1/2 resolution context, full-resolution residual hidden] (channels
        ``feature_channels``). With ``return_maps`` as well, the decision maps come third: the
        sigmoid of the head at 1/2 resolution (N,3,H/2,W/2), the IR base weight ``w`` and the IR and
        visible detail gains ``a / 2``, ``b / 2`` before upsampling (what ``edgefuse distill
        --map-share`` matches between teacher and student).

        Raises:
            ShapeMismatchError: Inputs of the wrong rank, channels, size or batch.
            ConfigError: Text missing for a teacher or given to a student.
        """
        self.check_inputs(vis, ir, text)
        if self.prior_head is not None:
            assert self.prior_gain is not None
            text = self.degradation_prior(vis, ir)  # the student's own prior in the teacher's text slot
        if self.ir_destripe:
            ir = self._destripe(ir)
        if self.ir_denoise and self.vis_denoise:
            both = self._shrink(torch.cat([ir, vis], dim=1), 0)
            ir, vis = both[:, :1], both[:, 1:]
        elif self.ir_denoise:
            ir = self._shrink(ir, 0)
        elif self.vis_denoise:
            vis = self._shrink(vis, 1)
        y = self._luminance(vis)
        if self.ir_black_level:
            ir = self._remove_black_level(ir)
        if self.ir_gain is not None:
            ir = self._stretch_ir(ir, y)
        if self.prior_gain is not None:
            m_ir = ir.mean(dim=(2, 3), keepdim=True)
            gain = torch.exp(1.5 * torch.tanh(self.prior_gain(text)))[:, :, None, None]
            ir = (m_ir + gain * (ir - m_ir)).clamp(0.0, 1.0)
        feats = self._context(y, ir, text)
        head = self.head(feats[-1])
        if self.prior_bias is not None:
            head = head + self.prior_bias(text)[:, :, None, None]
        maps = self._blend_maps(head, ir)
        w, a, b = maps[:, 0:1], 2.0 * maps[:, 1:2], 2.0 * maps[:, 2:3]
        src = torch.cat([ir, y], dim=1)
        base = self._lowpass(F.pad(src, (2, 2, 2, 2), mode="replicate"))
        detail = src - base
        if self.vis_exposure:
            over = self.overexposure(y)
            w, a = w + (1.0 - w) * over, a + (1.0 - a) * over
        fused_y = w * base[:, 0:1] + (1.0 - w) * base[:, 1:2] + a * detail[:, 0:1] + b * detail[:, 1:2]
        full = None
        if self.residual is not None:
            hidden = self._guide(3, F.relu(self.residual[0](torch.cat([ir, y, fused_y], dim=1))), text)
            fused_y = fused_y + self.residual[2](hidden)
            full = hidden
        out = vis + (fused_y - y)
        if self.clamp_output:
            out = out.clamp(0.0, 1.0)
        if return_features:
            feats.append(full if full is not None else _up_to(feats[-1], ir))
            if return_maps:
                return out, feats, torch.sigmoid(head)
            return out, feats
        return out
