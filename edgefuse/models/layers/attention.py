"""Channel (transposed, MDTA) and overlapping-window spatial (OCAB) self-attention."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.models.layers.tracing import exporting


class ChannelAttention(nn.Module):
    """Multi-Dconv-head transposed attention (MDTA) of Restormer (Zamir et al., CVPR 2022).

    Attention runs across channels, so its cost is linear in H*W: qkv = DWConv3x3(Conv1x1(x));
    per head q and k are L2-normalised along H*W; A = softmax(q k^T * tau_h) with a learnable
    temperature per head (init 1); out = Conv1x1(A v). DTPF (arXiv 2504.07029) calls it TSAB.

    Args:
        dim: Width ``C`` (divisible by ``num_heads``).
        num_heads: Number of heads.
        bias: Whether the convolutions have biases (False in DTPF).
    """

    def __init__(self, dim: int, num_heads: int, bias: bool = False) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ConfigError(
                f"channel attention width {dim} is not divisible by {num_heads} heads"
            )
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(
            dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3, bias=bias
        )
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend across the channels of ``x`` (N, C, H, W)."""
        n, c, h, w = x.shape
        q, k, v = (self._projection(x, i).reshape(n, self.num_heads, c // self.num_heads, h * w) for i in range(3))
        if exporting():
            attn = self._cosine_logits_for_export(q, k)
        else:
            attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ v
        return self.project_out(out.reshape(n, c, h, w))

    def _cosine_logits_for_export(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """``normalize(q) normalize(k)^T * tau`` with the norms divided out of the small product.

        ``(q / |q|) . (k / |k|) = (q . k) / (|q| |k|)``, and both ``|.|`` keep F.normalize's
        ``max(|x|, 1e-12)``: the same values without dividing the two (c/heads x H*W) maps, which
        ONNX exports as an Expand of each norm to the full map and a full-size Div. All MDTAs of
        dtpf_student in ONNX Runtime at 512x640, 2 threads: 1.30 -> 1.05 s.
        """
        nq = q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        nk = k.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return (q @ k.transpose(-2, -1)) / (nq * nk.transpose(-2, -1)) * self.temperature

    def _projection(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """q (i=0), k (1) or v (2): its own 1x1 + depth-wise conv chain on a third of the weights.

        Same values as running the 3C-channel chain and splitting it (both convs act per
        output channel), without the split copy; see GatedFeedForward.forward.
        """
        c = self.project_out.in_channels
        part = slice(i * c, (i + 1) * c)
        bias = self.qkv.bias[part] if self.qkv.bias is not None else None
        bias_dw = self.qkv_dwconv.bias[part] if self.qkv_dwconv.bias is not None else None
        y = F.conv2d(x, self.qkv.weight[part], bias)
        return F.conv2d(y, self.qkv_dwconv.weight[part], bias_dw, padding=1, groups=c)


def attention_layers(module: nn.Module) -> list[OverlapWindowAttention]:
    """Every OCAB in ``module`` (itself included)."""
    return [m for m in module.modules() if isinstance(m, OverlapWindowAttention)]


@contextlib.contextmanager
def projections_before_windows(module: nn.Module) -> Iterator[None]:
    """Run the OCABs of ``module`` the textbook way (project the map, then cut windows) inside this block.

    The windows-first path computes k/v for the overlap pixels of every window (w_o^2 / w^2 =
    2.25x the k/v projection MACs); :func:`edgefuse.models.profile.count_flops` uses this so
    that FLOP counts stay those of the architecture (DTPF's published numbers). Only the
    layers of ``module`` change, for the duration of the block, and each gets its own
    ``windows_first`` back afterwards; other models are untouched. Do not run ``module``
    from another thread meanwhile: it computes the same values but on the slower path.
    """
    layers = attention_layers(module)
    saved = [layer.windows_first for layer in layers]
    for layer in layers:
        layer.windows_first = False
    try:
        yield
    finally:
        for layer, value in zip(layers, saved):
            layer.windows_first = value


def _relative_index(window: int, key_window: int, rel_size: int, axis: int) -> torch.Tensor:
    """Flat gather indices that turn query-vs-table logits into query-vs-key logits.

    For the query at (x, y) of a ``window`` x ``window`` block and the key at offset ``j``
    (along ``axis``: 0 = rows, 1 = columns) of its ``key_window`` window, the logit uses table
    row ``j - pos + rel_size - 1`` with ``pos`` the query coordinate on that axis. This is the
    relative-to-absolute mapping of the HaloNet-style relative position embedding used by
    X-Restormer's OCAB, written as a constant gather so it exports as one ONNX ``Gather``.
    As in the reference, offsets are measured from the key window's first row/column, not
    its centre, so table rows below ``key_window - window`` are never used (kept so that
    parameter counts and shapes match the reference).

    Returns:
        Long tensor (window * window * key_window,) indexing the flattened
        (window * window * (2 * rel_size - 1)) logits.
    """
    table = 2 * rel_size - 1
    pos = torch.arange(window)
    x, y = torch.meshgrid(pos, pos, indexing="ij")
    query = (x * window + y).reshape(-1, 1)
    coord = (x if axis == 0 else y).reshape(-1, 1)
    j = torch.arange(key_window).reshape(1, -1)
    return (query * table + j - coord + rel_size - 1).reshape(-1)


class OverlapWindowAttention(nn.Module):
    """Overlapping cross-attention block (OCAB) of X-Restormer (Chen et al., ECCV 2024).

    Queries come from non-overlapping ``w`` x ``w`` windows, keys and values from the
    ``w_o`` x ``w_o`` windows centred on them (``w_o = w + int(w * overlap_ratio)``, zero padded
    at the borders, i.e. ``nn.Unfold(w_o, stride=w, padding=(w_o - w) // 2)``); logits are
    scaled by ``dim_head ** -0.5`` and get 2-D relative-position logits from two learnable
    tables of shape (2 * w_o - 1, dim_head). DTPF (arXiv 2504.07029) calls it SSAB.

    The overlapping key windows are cut with pad + reshape + slice + concat instead of
    ``nn.Unfold`` (identical values; checked in the tests): it exports to plain ONNX
    Pad/Reshape/Slice/Concat that TensorRT handles, with no im2col gather.

    Without biases (DTPF), the 1x1 q/k/v projection commutes with cutting windows, so the
    windows are cut from the C-channel input and projected afterwards with per-head weights
    that put the heads where the batched attention wants them: no 7-D head-splitting
    transposes and 1/4 of the data through pad/slice/concat at DTPF's level 1 (C = 16, three
    32-channel maps before). Zero padding stays exact because a bias-free projection of a zero
    pixel is zero. ONNX Runtime: -24 % time for this layer at 256x320, C = 16 (torch -8 %).

    Args:
        dim: Width ``C`` of the input and output.
        window_size: Query window ``w``; H and W must be multiples of it.
        overlap_ratio: Key-window enlargement; ``w_o - w`` must be even and at most ``w``.
        num_heads: Number of heads.
        dim_head: Width of each head (inner width = ``num_heads * dim_head``, independent of C).
        bias: Whether the 1x1 convolutions have biases (False in DTPF).
        windows_first: Take the windows-first path when the projections have no bias (the
            default; faster). False runs the textbook path: project the whole map, then cut
            windows. Same values; kept as the attribute ``windows_first`` of this layer.
    """

    def __init__(
        self,
        dim: int,
        window_size: int = 8,
        overlap_ratio: float = 0.5,
        num_heads: int = 2,
        dim_head: int = 16,
        bias: bool = False,
        windows_first: bool = True,
    ) -> None:
        super().__init__()
        key_window = window_size + int(window_size * overlap_ratio)
        overlap = key_window - window_size
        if window_size < 1 or overlap % 2 or not 0 <= overlap <= window_size:
            raise ConfigError(
                f"OCAB needs window_size >= 1 and an even overlap of at most the window; got "
                f"window_size={window_size}, overlap_ratio={overlap_ratio} (overlap {overlap})"
            )
        self.window_size = window_size
        self.windows_first = windows_first
        self.key_window = key_window
        self.num_heads = num_heads
        self.dim_head = dim_head
        self.inner_dim = num_heads * dim_head
        self.scale = dim_head**-0.5
        self.qkv = nn.Conv2d(dim, self.inner_dim * 3, kernel_size=1, bias=bias)
        self.project_out = nn.Conv2d(self.inner_dim, dim, kernel_size=1, bias=bias)
        self.rel_height = nn.Parameter(torch.randn(2 * key_window - 1, dim_head) * self.scale)
        self.rel_width = nn.Parameter(torch.randn(2 * key_window - 1, dim_head) * self.scale)
        for name, axis in (("index_height", 0), ("index_width", 1)):
            index = _relative_index(window_size, key_window, key_window, axis)
            self.register_buffer(name, index, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend within overlapping windows of ``x`` (N, C, H, W); H, W multiples of w."""
        n, _, h, w = x.shape
        win = self.window_size
        if h % win or w % win:
            raise ShapeMismatchError(
                f"OCAB input {h}x{w} is not a multiple of the window {win}; pad the input first"
            )
        if self.qkv.bias is None and self.windows_first:
            return self._attend_projecting_windows(x)
        q, k, v = self.qkv(x).chunk(3, dim=1)
        q = self._query_windows(q) * self.scale
        k, v = self._key_windows(k), self._key_windows(v)
        attn = self._logits(q, k)
        out = attn.softmax(dim=-1) @ v
        out = out.reshape(n, h // win, w // win, self.num_heads, win, win, self.dim_head)
        out = out.permute(0, 1, 4, 2, 5, 3, 6).reshape(n, h, w, self.inner_dim).permute(0, 3, 1, 2)
        return self.project_out(out)

    def _attend_projecting_windows(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with windows cut from ``x`` first and q/k/v projected per window."""
        if exporting():
            return self._attend_augmented(x)
        n, c, h, w = x.shape
        win, heads, d = self.window_size, self.num_heads, self.dim_head
        nh, nw, area = h // win, w // win, win * win
        weight = self.qkv.weight.reshape(3, heads, d, c).transpose(-1, -2)  # (q|k|v, heads, C, d)
        pixels = x.permute(0, 2, 3, 1)  # NHWC
        xq = pixels.reshape(n, nh, win, nw, win, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 1, area, c)
        xk = self._overlap_windows(pixels).reshape(-1, 1, self.key_window**2, c)
        q = xq @ (weight[0] * self.scale)  # (windows, heads, w*w, d)
        k, v = xk @ weight[1], xk @ weight[2]  # (windows, heads, w_o*w_o, d)
        attn = self._logits(q.reshape(-1, area, d), k.reshape(-1, self.key_window**2, d))
        out = attn.softmax(dim=-1).reshape(-1, heads, area, self.key_window**2) @ v
        return self._project_and_merge(out, x.shape)

    def _project_and_merge(self, out: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """Per-window head outputs (windows, heads, w*w, d) -> projected (N, C, H, W) map."""
        n, c, h, w = shape
        win, area = self.window_size, self.window_size**2
        out = out.transpose(1, 2).reshape(-1, area, self.inner_dim)
        y = out @ self.project_out.weight.reshape(c, self.inner_dim).t()  # (windows, w*w, C)
        if self.project_out.bias is not None:
            y = y + self.project_out.bias
        y = y.reshape(n, h // win, w // win, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)
        return y.permute(0, 3, 1, 2)

    def _attend_augmented(self, x: torch.Tensor) -> torch.Tensor:
        """The windows-first attention with the relative logits folded into one q.k MatMul (export form).

        The logit of query p = (x, y) and key (a, b) is ``q.k + q.rh[a - x + s] + q.rw[b - y + s]``
        (s = w_o - 1). With ``q = x_p Wq`` the two relative terms are ``x_p (Wq rh_x^T)`` and
        ``x_p (Wq rw_y^T)``: projections whose weights depend only on the query's place in the
        window. So each head gets an augmented query ``[q | rows (w_o) | cols (w_o)]``, computed
        by one MatMul batched over the w*w window places with per-place weights, and an
        augmented key ``[k | one-hot(a) | one-hot(b)]``; their product is the whole logit sum.
        This replaces the relative-logit MatMuls, the pad/slice skew and two full-size Adds
        (one of them a two-sided broadcast that ONNX Runtime runs slowly) by a MatMul with
        K = d + 2 w_o instead of d: same values (tested). ONNX Runtime, 2 threads, one layer at
        512x640: 634 -> 514 ms at C = 16 and 749 -> 624 ms at C = 32 (2 heads of 16), about
        equal with 4 heads of 32; all OCABs of dtpf_student at 512x640: 8.98 -> 7.60 s.
        """
        n, c, h, w = x.shape
        win, heads, d, kw = self.window_size, self.num_heads, self.dim_head, self.key_window
        nh, nw, area, karea, aug = h // win, w // win, win * win, kw * kw, d + 2 * kw
        weight = self.qkv.weight.reshape(3, heads, d, c).transpose(-1, -2)  # (q|k|v, heads, C, d)
        wq = weight[0] * self.scale
        # table rows a - x + s for window row (or column) x and key row a: (w, w_o)
        rows = torch.arange(kw, device=x.device).reshape(1, -1) - torch.arange(win, device=x.device).reshape(-1, 1)
        rows = rows + kw - 1
        w_rows = wq.unsqueeze(1) @ self.rel_height[rows].transpose(-1, -2).unsqueeze(0)  # (heads, x, C, w_o)
        w_cols = wq.unsqueeze(1) @ self.rel_width[rows].transpose(-1, -2).unsqueeze(0)  # (heads, y, C, w_o)
        per_place = torch.cat([
            wq.reshape(heads, 1, 1, c, d).expand(heads, win, win, c, d),
            w_rows.unsqueeze(2).expand(heads, win, win, c, kw),
            w_cols.unsqueeze(1).expand(heads, win, win, c, kw),
        ], dim=-1)  # (heads, x, y, C, aug)
        per_place = per_place.permute(1, 2, 3, 0, 4).reshape(area, c, heads * aug)
        pixels = x.permute(0, 2, 3, 1)  # NHWC
        xq = pixels.reshape(n, nh, win, nw, win, c).permute(2, 4, 0, 1, 3, 5).reshape(area, -1, c)
        q = (xq @ per_place).reshape(area, -1, aug).transpose(0, 1).reshape(-1, heads, area, aug)
        xk = self._overlap_windows(pixels).reshape(-1, 1, karea, c)
        key = torch.arange(karea, device=x.device)
        one_hot = torch.cat([torch.zeros(karea, d, device=x.device, dtype=x.dtype),
                             F.one_hot(key // kw, kw).to(x.dtype), F.one_hot(key % kw, kw).to(x.dtype)], dim=-1)
        k = xk @ F.pad(weight[1], (0, 2 * kw)) + one_hot  # (windows, heads, w_o*w_o, aug)
        out = (q @ k.transpose(-1, -2)).softmax(dim=-1) @ (xk @ weight[2])  # (windows, heads, w*w, d)
        return self._project_and_merge(out, x.shape)

    def _overlap_windows(self, t: torch.Tensor) -> torch.Tensor:
        """(N, H, W, C) channels-last -> (N, H/w, W/w, w_o, w_o, C) zero-padded overlap windows.

        Window (i, j) covers padded rows/cols [w*i, w*i + w_o): the w rows of padded block i
        followed by the first w_o - w rows of block i + 1, so padding by (w_o - w) / 2 on the
        top/left and up to a whole extra block on the bottom/right lets reshape + slice + concat
        reproduce ``nn.Unfold(w_o, stride=w, padding=(w_o - w) // 2)`` exactly.
        """
        n, h, w, c = t.shape
        win, extra = self.window_size, self.key_window - self.window_size
        lo = extra // 2
        t = F.pad(t, (0, 0, lo, win - lo, lo, win - lo))
        t = t.reshape(n, h // win + 1, win, w + win, c)
        t = torch.cat([t[:, :-1], t[:, 1:, :extra]], dim=2)
        t = t.reshape(n, h // win, self.key_window, w // win + 1, win, c)
        t = torch.cat([t[:, :, :, :-1], t[:, :, :, 1:, :extra]], dim=4)
        return t.reshape(n, h // win, self.key_window, w // win, self.key_window, c).permute(0, 1, 3, 2, 4, 5)

    def _logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Attention logits ``q k^T + relative logits`` (B, w*w, w_o*w_o)."""
        if exporting():
            return self._logits_for_export(q, k)
        # baddbmm accumulates the GEMM into the relative logits: one full-size pass less on CPU.
        return torch.baddbmm(self._relative_logits(q), q, k.transpose(-2, -1))

    def _logits_for_export(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The same sum as ONNX MatMul + Add (baddbmm would export two extra Mul-by-1 nodes).

        Used when the projections have biases (the bias-free export is
        :meth:`_attend_augmented`). The relative logits come from :func:`_relative_by_skew`
        here. Also tried and measured slower or no faster in ONNX Runtime: a Gemm adding q k^T
        as its C term to ``[rows | cols] @ one-hot`` (slower at C >= 32), and concatenating the
        skewed [rows | cols] to q and a one-hot block to k (within noise: the skew and the
        concatenations cost what the Adds saved; :meth:`_attend_augmented` gets the augmented
        query from the projection itself instead).
        """
        kw, area = self.key_window, self.window_size**2
        rows, cols = self._relative_by_skew(q)
        rel = (rows.reshape(-1, area, kw, 1) + cols.reshape(-1, area, 1, kw)).reshape(-1, area, kw * kw)
        return q @ k.transpose(-2, -1) + rel

    def _query_windows(self, q: torch.Tensor) -> torch.Tensor:
        """(N, heads*d, H, W) -> (N * nH * nW * heads, w*w, d), windows in raster order.

        Partitioned channels-last: one NCHW -> NHWC move, then a permute that keeps each
        head's ``d`` values together, so both are block copies (a 7-D permute of NCHW moves
        single floats, which dominated ONNX Runtime's time; benchmarks/profile_ort.py).
        """
        n, _, h, w = q.shape
        win = self.window_size
        q = q.permute(0, 2, 3, 1).reshape(n, h // win, win, w // win, win, self.num_heads, self.dim_head)
        q = q.permute(0, 1, 3, 5, 2, 4, 6)
        return q.reshape(-1, win * win, self.dim_head)

    def _key_windows(self, t: torch.Tensor) -> torch.Tensor:
        """(N, heads*d, H, W) -> (N * nH * nW * heads, w_o*w_o, d), zero-padded overlap windows."""
        n, _, h, w = t.shape
        t = self._overlap_windows(t.permute(0, 2, 3, 1))  # channels-last, see _query_windows
        t = t.reshape(n, h // self.window_size, w // self.window_size, self.key_window, self.key_window,
                      self.num_heads, self.dim_head)
        t = t.permute(0, 1, 2, 5, 3, 4, 6)
        return t.reshape(-1, self.key_window * self.key_window, self.dim_head)

    def _relative_logits(self, q: torch.Tensor) -> torch.Tensor:
        """Relative-position logits (B, w*w, w_o*w_o) for scaled queries ``q`` (B, w*w, d)."""
        kw, area = self.key_window, self.window_size**2
        # torch's index_select is fast; the export uses _relative_by_skew (ONNX Runtime's Gather is slow)
        rows = (q @ self.rel_height.t()).flatten(1).index_select(1, self.index_height)
        cols = (q @ self.rel_width.t()).flatten(1).index_select(1, self.index_width)
        logits = rows.reshape(-1, area, kw, 1) + cols.reshape(-1, area, 1, kw)
        return logits.reshape(-1, area, kw * kw)

    def _relative_by_skew(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two gathers of :func:`_relative_index` as pad + slice + reshape ("skewing").

        Query (x, y) needs table rows ``j - x + s`` (s = w_o - 1) of its row logits: in the
        flattened (x, y, L = 2 w_o - 1) logits that is element ``x (w L - 1) + y L + j + s``, so
        starting at ``s`` and reading rows of ``w L - 1`` aligns every query's slice; the column
        logits need ``y (L - 1) + j + s`` within each x, rows of ``L - 1``. Same values as the
        gathers (tested); exported as Pad/Slice/Reshape, which ONNX Runtime runs much faster
        than a 768-index Gather per window.
        """
        win, kw = self.window_size, self.key_window
        table, shift = 2 * kw - 1, kw - 1
        extra = max(shift - win, 0)
        rows = (q @ self.rel_height.t()).reshape(-1, win * win * table)
        rows = F.pad(rows, (0, extra))[:, shift:shift + win * (win * table - 1)]
        rows = F.pad(rows.reshape(-1, win, win * table - 1), (0, 1)).reshape(-1, win, win, table)[..., :kw]
        cols = (q @ self.rel_width.t()).reshape(-1, win * table)
        cols = F.pad(cols, (0, extra))[:, shift:shift + win * (table - 1)]
        cols = cols.reshape(-1, win, win, table - 1)[..., :kw]
        return rows, cols
