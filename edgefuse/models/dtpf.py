"""The DTPF fusion network: text-guided teacher and image-only student in one class."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from edgefuse.errors import ConfigError
from edgefuse.models.contract import FusionModel
from edgefuse.models.layers import (
    AttentionFusion,
    Downsample,
    DualTransformerBlock,
    OverlapPatchEmbed,
    SpatialChannelCrossFusion,
    TextGuide,
    Upsample,
)

LEVELS = 4


def _stage(
    dim: int, depth: int, channel_heads: int, spatial_heads: int, opts: dict
) -> nn.Sequential:
    """A stack of ``depth`` dual transformer blocks at width ``dim``."""
    return nn.Sequential(
        *(DualTransformerBlock(dim, channel_heads, spatial_heads, **opts) for _ in range(depth))
    )


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``x`` (N, C, H, W) at the bottom/right so that H and W are multiples of ``multiple``.

    Reflect padding where the side is long enough (pad < size), else replicate padding
    (reflect cannot pad more than size - 1, e.g. a 20-pixel side padded to 64).
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class Encoder(nn.Module):
    """One modality's 4-level X-Restormer encoder: PatchEmbed, [stage, Down] x 3, stage.

    Args:
        in_channels: Image channels.
        widths: Width per level (C, 2C, 4C, 8C).
        depths: Blocks per level.
        channel_heads: MDTA heads per level.
        spatial_heads: OCAB heads per level.
        block_opts: Remaining :class:`DualTransformerBlock` keyword arguments.
    """

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        depths: Sequence[int],
        channel_heads: Sequence[int],
        spatial_heads: Sequence[int],
        block_opts: dict,
    ) -> None:
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_channels, widths[0], block_opts["bias"])
        self.stages = nn.ModuleList(
            _stage(widths[i], depths[i], channel_heads[i], spatial_heads[i], block_opts)
            for i in range(LEVELS)
        )
        self.downs = nn.ModuleList(Downsample(widths[i]) for i in range(LEVELS - 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the four level outputs (strides 1, 2, 4, 8) of image ``x``."""
        feats = [self.stages[0](self.patch_embed(x))]
        for down, stage in zip(self.downs, self.stages[1:]):
            feats.append(stage(down(feats[-1])))
        return feats


class DTPF(FusionModel):
    """DTPF fusion network (Zhang et al., arXiv 2504.07029; official code "Text_XRestormer").

    Two X-Restormer encoders (visible RGB and infrared), the spatial-channel cross-fusion
    module (SCFM) at the bottleneck, an attention fusion block Phi per level, and a Restormer
    U-Net decoder with refinement; ``fused = Conv3x3(refined) + vis``. With ``text_dim`` set
    this is the teacher: a FiLM :class:`TextGuide` modulates the fused bottleneck and each
    up-sampled decoder stream with a sentence embedding. With ``text_dim=None`` it is the
    student, which has no text modules at all.

    Size rule: every level's OCAB needs H and W divisible by the window (8), i.e. the input
    divisible by ``size_multiple`` = 8 * window = 64. ``forward`` pads any H x W at the
    bottom/right (reflect; replicate for sides too short to reflect) and crops the output and
    the features back, so callers may pass any size; the compute is that of the padded size.

    Output range: the reference returns ``conv + vis`` unclamped. Here ``clamp_output=True``
    (default) clamps the fused image to [0, 1] as the last op (one ONNX Clip) so deployed
    engines emit valid images; pass ``clamp_output=False`` for the reference behaviour (for
    example to train without the zero gradient of the clamp outside [0, 1]).

    Args:
        dim: Width ``C`` of level 1 (levels are C, 2C, 4C, 8C; decoder level 1 and the
            refinement run at 2C). Must be even.
        num_blocks: Dual transformer blocks per level (encoders and decoder).
        num_refinement_blocks: Blocks in the refinement stage.
        channel_heads: MDTA heads per level.
        spatial_heads: OCAB heads per level (the last one is also used by SCFM).
        window_size: OCAB query window.
        overlap_ratio: OCAB key-window enlargement.
        spatial_dim_head: OCAB head width in the blocks and SCFM.
        ffn_expansion_factor: GDFN hidden expansion.
        bias: Bias of the patch-embedding, attention, feed-forward, SCFM, channel-reduction
            and output convolutions (the resamplers never have one; Phi's output conv
            always has one). False in DTPF.
        text_dim: Sentence-embedding width for the teacher; None builds the student.
        fusion_channel_heads: MDTA heads of every Phi and of SCFM.
        fusion_spatial_heads: OCAB heads of every Phi.
        fusion_dim_head: OCAB head width of every Phi.
        clamp_output: Clamp the fused image to [0, 1].
        vis_channels: Channels of the visible (and output) image.
        ir_channels: Channels of the infrared image.
        windows_first: OCAB path of every attention block of this network: True (default)
            cuts windows from the input and projects q/k/v per window (faster), False
            projects the whole map first (the textbook form, whose FLOPs are the published
            ones). Same values either way; see :class:`OverlapWindowAttention`.
    """

    size_multiple = 64

    def __init__(
        self,
        dim: int = 48,
        num_blocks: Sequence[int] = (2, 2, 2, 2),
        num_refinement_blocks: int = 4,
        channel_heads: Sequence[int] = (1, 2, 4, 8),
        spatial_heads: Sequence[int] = (2, 2, 3, 4),
        window_size: int = 8,
        overlap_ratio: float = 0.5,
        spatial_dim_head: int = 16,
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        text_dim: int | None = None,
        fusion_channel_heads: int = 8,
        fusion_spatial_heads: int = 4,
        fusion_dim_head: int = 32,
        clamp_output: bool = True,
        vis_channels: int = 3,
        ir_channels: int = 1,
        windows_first: bool = True,
    ) -> None:
        super().__init__()
        _check_config(dim, num_blocks, channel_heads, spatial_heads, text_dim)
        self.text_dim = text_dim
        self.clamp_output = clamp_output
        self.vis_channels, self.ir_channels = vis_channels, ir_channels
        self.size_multiple = window_size * 2 ** (LEVELS - 1)
        widths = [dim * 2**i for i in range(LEVELS)]
        self.feature_channels = (widths[3], widths[2], widths[1], widths[1])
        opts = dict(
            spatial_dim_head=spatial_dim_head,
            window_size=window_size,
            overlap_ratio=overlap_ratio,
            ffn_expansion=ffn_expansion_factor,
            bias=bias,
            windows_first=windows_first,
        )
        enc = (widths, num_blocks, channel_heads, spatial_heads, opts)
        self.encoder_vis = Encoder(vis_channels, *enc)
        self.encoder_ir = Encoder(ir_channels, *enc)
        window = (window_size, overlap_ratio)
        self.cross_fusion = SpatialChannelCrossFusion(
            widths[3], fusion_channel_heads, spatial_heads[-1], spatial_dim_head, *window, bias,
            windows_first=windows_first,
        )
        fusion_heads = (fusion_channel_heads, fusion_spatial_heads, fusion_dim_head)
        self.fusions = nn.ModuleList(
            AttentionFusion(width, *fusion_heads, *window, bias, windows_first=windows_first)
            for width in widths
        )
        self.guides = None
        if text_dim is not None:
            self.guides = nn.ModuleList(TextGuide(text_dim, width) for width in widths)
        self._build_decoder(
            widths, num_blocks, num_refinement_blocks, channel_heads, spatial_heads, opts
        )

    def _build_decoder(
        self,
        widths: Sequence[int],
        depths: Sequence[int],
        refinement: int,
        channel_heads: Sequence[int],
        spatial_heads: Sequence[int],
        opts: dict,
    ) -> None:
        """Create the decoder stages, up-samplers, channel reductions, refinement and head."""
        ch, sp, bias = channel_heads, spatial_heads, opts["bias"]
        self.decoder4 = _stage(widths[3], depths[3], ch[3], sp[3], opts)
        self.up4 = Upsample(widths[3])
        self.reduce3 = nn.Conv2d(widths[3], widths[2], kernel_size=1, bias=bias)
        self.decoder3 = _stage(widths[2], depths[2], ch[2], sp[2], opts)
        self.up3 = Upsample(widths[2])
        self.reduce2 = nn.Conv2d(widths[2], widths[1], kernel_size=1, bias=bias)
        self.decoder2 = _stage(widths[1], depths[1], ch[1], sp[1], opts)
        self.up2 = Upsample(widths[1])
        self.decoder1 = _stage(widths[1], depths[0], ch[0], sp[0], opts)
        self.refinement = _stage(widths[1], refinement, ch[0], sp[0], opts)
        self.output = nn.Conv2d(widths[1], self.vis_channels, kernel_size=3, padding=1, bias=bias)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size ``forward`` actually computes on for an input of ``height`` x ``width``."""
        m = self.size_multiple
        return -(-height // m) * m, -(-width // m) * m

    def forward(
        self,
        vis: torch.Tensor,
        ir: torch.Tensor,
        text: torch.Tensor | None = None,
        return_features: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Fuse a visible/infrared pair.

        Args:
            vis: Visible image (N, 3, H, W) in [0, 1].
            ir: Infrared image (N, 1, H, W) in [0, 1].
            text: Sentence embeddings (N, text_dim); required by the teacher, refused by the
                student.
            return_features: Also return the decoder features [D4, D3, D2, D1] (before
                refinement, strides 8/4/2/1) cropped to ceil(H / stride) x ceil(W / stride).

        Returns:
            ``fused`` (N, 3, H, W), or ``(fused, features)`` with ``return_features``.

        Raises:
            ShapeMismatchError: Inputs of the wrong rank, channels, size or batch.
            ConfigError: Text missing for the teacher or given to the student.
        """
        self.check_inputs(vis, ir, text)
        h, w = vis.shape[-2:]
        vis_p = pad_to_multiple(vis, self.size_multiple)
        ir_p = pad_to_multiple(ir, self.size_multiple)
        enc_vis, enc_ir = self.encoder_vis(vis_p), self.encoder_ir(ir_p)
        fused_vis, fused_ir = self.cross_fusion(enc_vis[-1], enc_ir[-1])
        skips = [fuse(a, b) for fuse, a, b in zip(self.fusions[:-1], enc_vis[:-1], enc_ir[:-1])]
        skips.append(self.fusions[-1](fused_vis, fused_ir))
        feats = self._decode(skips, text)
        fused = self.output(self.refinement(feats[-1])) + vis_p
        if self.clamp_output:
            fused = fused.clamp(0.0, 1.0)
        if fused.shape[-2:] != vis.shape[-2:]:
            fused = fused[:, :, :h, :w]
        if not return_features:
            return fused
        strides = (8, 4, 2, 1)
        return fused, [f[:, :, : -(-h // s), : -(-w // s)] for f, s in zip(feats, strides)]

    def _decode(self, skips: list[torch.Tensor], text: torch.Tensor | None) -> list[torch.Tensor]:
        """Run the decoder on the fused skips (levels 1..4); return [D4, D3, D2, D1]."""
        d4 = self.decoder4(self._guide(3, skips[3], text))
        u3 = self._guide(2, self.up4(d4), text)
        d3 = self.decoder3(self.reduce3(torch.cat([u3, skips[2]], dim=1)))
        u2 = self._guide(1, self.up3(d3), text)
        d2 = self.decoder2(self.reduce2(torch.cat([u2, skips[1]], dim=1)))
        u1 = self._guide(0, self.up2(d2), text)
        d1 = self.decoder1(torch.cat([u1, skips[0]], dim=1))
        return [d4, d3, d2, d1]

    def _guide(self, level: int, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        """Apply the level's text Guide (teacher) or pass ``x`` through (student)."""
        if self.guides is None or text is None:
            return x
        return self.guides[level](x, text)


def _check_config(
    dim: int,
    num_blocks: Sequence[int],
    channel_heads: Sequence[int],
    spatial_heads: Sequence[int],
    text_dim: int | None,
) -> None:
    """Raise ``ConfigError`` on DTPF hyper-parameters that cannot build a network."""
    if dim < 2 or dim % 2:
        raise ConfigError(f"dim must be a positive even number (Downsample halves it); got {dim}")
    per_level = dict(num_blocks=num_blocks, channel_heads=channel_heads, spatial_heads=spatial_heads)
    for name, value in per_level.items():
        if len(value) != LEVELS or any(v < 1 for v in value):
            raise ConfigError(
                f"{name} needs {LEVELS} positive entries (one per level); got {value}"
            )
    if text_dim is not None and text_dim < 1:
        raise ConfigError(f"text_dim must be positive or None (student); got {text_dim}")
