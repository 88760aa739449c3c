"""The contract every fusion network keeps: declared attributes, input roles, one forward signature.

Training, distillation, profiling, export and the backends rely on exactly this and nothing
else, so a new architecture plugs in by subclassing :class:`FusionModel`:

* ``size_multiple``: input H and W must be multiples of it for the network's layers (1 = any
  size). A network with a multiple above 1 pads inside ``forward`` and crops back, so callers
  may still pass any size; exported graphs take only multiples (the runtime pads frames).
* ``text_dim``: width of the sentence embedding a text-guided network (a teacher) needs, or
  ``None`` for a text-free network (a student).
* ``feature_channels``: channels of each feature map ``forward(..., return_features=True)``
  returns, in order (what distillation matches level by level).
* ``vis_channels`` / ``ir_channels``: channels of the two inputs (3 and 1).

``forward(vis, ir, text=None, return_features=False)`` takes ``vis`` (N, 3, H, W) and ``ir``
(N, 1, H, W) in [0, 1] and returns the fused (N, 3, H, W) image, or ``(fused, features)`` with
``return_features=True``. The text rule is the same for every network: a text-free one given
a text raises, and a text-guided one called without text raises (both ``ValueError``
subclasses with a one-line message), so that a wrong call never passes silently.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import nn

from edgefuse.errors import ConfigError, ShapeMismatchError


class FusionModel(nn.Module, metaclass=ABCMeta):
    """Base class of the fusion networks: the attributes and the forward signature they declare.

    Subclasses set ``text_dim`` and ``feature_channels`` (and ``size_multiple`` when their
    layers need one) in ``__init__`` and implement ``forward`` with the signature below;
    :meth:`check_inputs` applies the shared shape and text rules.
    """

    size_multiple: int = 1
    text_dim: int | None = None
    feature_channels: tuple[int, ...] = ()
    vis_channels: int = 3
    ir_channels: int = 1

    @property
    def is_teacher(self) -> bool:
        """Whether the network takes text (``text_dim`` set)."""
        return self.text_dim is not None

    @abstractmethod
    def forward(
        self,
        vis: torch.Tensor,
        ir: torch.Tensor,
        text: torch.Tensor | None = None,
        return_features: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Fuse ``vis`` (N, 3, H, W) and ``ir`` (N, 1, H, W) in [0, 1] into (N, 3, H, W).

        Args:
            vis: Visible image.
            ir: Infrared image.
            text: Sentence embeddings (N, ``text_dim``); required when ``text_dim`` is set,
                refused when it is None.
            return_features: Also return the feature maps, one per ``feature_channels`` entry.

        Returns:
            ``fused``, or ``(fused, features)`` with ``return_features``.
        """

    def check_inputs(self, vis: torch.Tensor, ir: torch.Tensor, text: torch.Tensor | None) -> None:
        """Raise on inputs that do not fit this network (shapes, then the text rule).

        Raises:
            ShapeMismatchError: Inputs of the wrong rank, channels, size or batch, or text
                embeddings of the wrong shape.
            ConfigError: Text given to a text-free network, or missing for a text-guided one.
        """
        for name, t, c in (("vis", vis, self.vis_channels), ("ir", ir, self.ir_channels)):
            if t.dim() != 4 or t.shape[1] != c:
                raise ShapeMismatchError(f"{name} must be (N, {c}, H, W); got {tuple(t.shape)}")
        if vis.shape[0] != ir.shape[0] or vis.shape[-2:] != ir.shape[-2:]:
            raise ShapeMismatchError(
                f"vis {tuple(vis.shape)} and ir {tuple(ir.shape)} differ in batch or size;"
                " register and resize the pair first"
            )
        self.check_text(text, vis.shape[0])

    def check_text(self, text: torch.Tensor | None, batch: int) -> None:
        """Apply the text rule for a batch of ``batch`` pairs.

        Raises:
            ConfigError: ``text`` given while ``text_dim`` is None, or missing while it is set.
            ShapeMismatchError: ``text`` is not (``batch``, ``text_dim``).
        """
        name = type(self).__name__
        if self.text_dim is None:
            if text is not None:
                raise ConfigError(
                    f"{name} is text-free (text_dim=None) and takes no text; call it without text"
                )
            return
        expected = (batch, self.text_dim)
        if text is None:
            raise ConfigError(
                f"{name} is text-guided and needs text embeddings of shape {expected}; pass them as text"
            )
        if tuple(text.shape) != expected:
            raise ShapeMismatchError(f"text must be {expected} for {name}; got {tuple(text.shape)}")


def size_multiple_of(model: nn.Module) -> int:
    """The size rule of any ``(vis, ir) -> fused`` module: a FusionModel's or a wrapper's declared value, else 1.

    The one place that reads the contract from modules that may not subclass :class:`FusionModel`
    (wrappers such as ``FixedTextTeacher``, a user's own module handed to a backend or the exporter).
    """
    return int(getattr(model, "size_multiple", 1) or 1)


def text_dim_of(model: nn.Module) -> int | None:
    """The text width a module takes (``None``: text-free), read the same way as :func:`size_multiple_of`."""
    dim = getattr(model, "text_dim", None)
    return int(dim) if dim else None
