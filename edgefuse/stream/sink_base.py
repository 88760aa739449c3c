"""What every sink shares: the ``Fused`` result record, the ``Sink`` base class and the sink registry.

Sinks are kinds in ``SINKS``, as sources are schemes in ``SOURCES``. A kind says which
``--out`` values select it (URI ``schemes`` such as ``http``, file ``suffixes`` such as
``.mp4``, or ``folder`` for paths that name a directory) and builds the sink from that value.
``sinks.py`` registers ``video``, ``folder`` and ``display``, ``viewer.py`` registers ``http``;
both import this module and ``viewer.py`` does not import ``sinks.py``, so the sink modules form
no import cycle. ``sink_kind`` picks the kind for a value; ``sinks.create_sink``
builds it (import ``edgefuse.stream.sinks`` so every built-in kind is registered).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgefuse.errors import ConfigError
from edgefuse.registry import Registry
from edgefuse.secrets import redact
from edgefuse.stream.sync import FramePair


@dataclass
class Fused:
    """One pipeline result: the fused frame and the inputs it came from (all RGB/grey uint8)."""

    seq: int
    fused: np.ndarray
    vis: np.ndarray
    ir: np.ndarray  # registered onto the visible frame
    pair: FramePair
    t_infer0: float = 0.0  # time.monotonic() when inference started / ended
    t_infer1: float = 0.0


class Sink(ABC):
    """Receives ``Fused`` results in order; ``close`` finalises (files become complete)."""

    name = "sink"
    live_output = False  # someone watches it as it happens (viewer, window): files are paced then

    def open(self) -> None:
        """Acquire resources (servers, windows); files open lazily on the first frame."""

    @abstractmethod
    def write(self, item: Fused) -> None:
        """Consume one fused result (in pairing order)."""

    def close(self) -> None:
        """Finalise; must be safe to call twice."""

    def attach_stats(self, fn: Callable[[], dict[str, Any]]) -> None:
        """Give the sink a function returning live stats (used by the web viewer)."""

    def describe(self) -> str:
        return self.name


FpsFn = Callable[[], float | None]
# (--out value, frame rate of written video or None, function giving the sources' rate or None) -> Sink
SinkFactory = Callable[[str, float | None, FpsFn | None], Sink]


@dataclass(frozen=True)
class SinkKind:
    """One kind of output and the ``--out`` values that select it.

    Attributes:
        name: the registry name (``video``, ``folder``, ``http``, ``display``).
        create: builds the sink from the whole ``--out`` value (not yet opened).
        what: how messages name it (``a video file``).
        example: an ``--out`` value that selects this kind (shown in messages, used by tests).
        schemes: URI schemes that select it (``http`` for ``http://HOST:PORT``).
        suffixes: file suffixes that select it (``.mp4``), lower case, with the dot.
        folder: a path ending in ``/``, an existing folder or a path without suffix selects it.
        aliases: whole ``--out`` values that also select it (``window`` for ``display://``).
    """

    name: str
    create: SinkFactory
    what: str
    example: str
    schemes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    aliases: tuple[str, ...] = ()


SINKS: Registry[SinkKind] = Registry("stream sink kind")


def register_sink(kind: SinkKind) -> SinkKind:
    """Add ``kind`` to ``SINKS``; its schemes, suffixes and aliases must not be claimed by another kind."""
    for other in (SINKS.get(n) for n in SINKS):
        for attr in ("schemes", "suffixes", "aliases"):
            taken = set(getattr(kind, attr)) & set(getattr(other, attr))
            if taken:
                raise ValueError(f"sink kind {kind.name!r}: {attr[:-1]} {sorted(taken)[0]!r} already selects "
                                 f"{other.name!r}")
        if kind.folder and other.folder:
            raise ValueError(f"sink kind {kind.name!r}: folders already select {other.name!r}")
    return SINKS.add(kind.name, kind)


def _kinds() -> list[SinkKind]:
    return [SINKS.get(n) for n in SINKS]


def _choices() -> str:
    """The registered kinds for messages: 'a video file (.mp4), ..., or display://'."""
    parts = [f"{k.what} ({k.example})" for k in _kinds()]
    return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1] if parts else "nothing"


def sink_kind(spec: str) -> SinkKind:
    """The registered kind an ``--out`` value selects.

    A ``scheme://`` value selects the kind claiming that scheme (``file://`` is a path); a path
    selects the kind claiming its suffix, else the folder kind when it ends in ``/``, is an
    existing folder or has no suffix.

    Raises:
        ConfigError: a value that selects no kind.
    """
    for kind in _kinds():
        if spec in kind.aliases:
            return kind
    shown = redact(spec)
    if "://" in spec and not spec.startswith("file://"):
        scheme = spec.split("://", 1)[0].lower()
        for kind in _kinds():
            if scheme in kind.schemes:
                return kind
        raise ConfigError(f"--out {shown!r}: unknown output; use {_choices()}")
    path = Path(spec.removeprefix("file://")).expanduser()
    suffix = path.suffix.lower()
    for kind in _kinds():
        if suffix and suffix in kind.suffixes:
            return kind
    if spec.endswith(("/", os.sep)) or path.is_dir() or not suffix:
        for kind in _kinds():
            if kind.folder:
                return kind
    known = [s for k in _kinds() for s in k.suffixes]
    raise ConfigError(f"--out {shown!r}: {suffix!r} is not a video suffix ({', '.join(known)}); "
                      "give a folder (ending in /) for images")


__all__ = ["SINKS", "FpsFn", "Fused", "Sink", "SinkFactory", "SinkKind", "register_sink", "sink_kind"]
