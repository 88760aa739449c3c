"""``StreamConfig``: every option of ``edgefuse stream``, frozen, with YAML round trip."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgefuse.config_types import check_field_types
from edgefuse.errors import ConfigError, DataError, did_you_mean, reject_unknown

POLICIES = ("auto", "latest", "all")


@dataclass(frozen=True)
class StreamConfig:
    """Options of one stream run; defaults < YAML < CLI flags.

    Attributes:
        ir, vis: source URIs (``file://``, ``v4l2://``, ``csi://``, ``rtsp://``, ``gst://``, ``synthetic://``).
        rig: rig file (registration matrix, resolutions, clock offset).
        outputs: ``--out`` values (``x.mp4``, ``DIR/``, ``http://HOST:PORT``, ``display://``).
        tolerance_ms: largest timestamp difference of a pair.
        offset_ms: added to IR timestamps before pairing; ``None`` takes the rig's (or 0).
        max_frames: stop after this many pairs (0 = until the sources end).
        policy: ``latest`` keeps the newest pair when the model is slower than the cameras,
            ``all`` processes every pair, ``auto`` picks ``latest`` for live/paced sources.
        queue_size: depth of the queues between stages (``all`` policy).
        pair_queue: frames held per side while waiting for a partner.
        stall_timeout: seconds without a frame before a source counts as stalled.
        overlay: draw FPS and latency on the output frames.
        out_fps: frame rate written into video files (``None``: the sources' rate).
        stats_path: where the stats JSON goes at the end.
    """

    ir: str = ""
    vis: str = ""
    rig: str | None = None
    outputs: tuple[str, ...] = ()
    tolerance_ms: float = 20.0
    offset_ms: float | None = None
    max_frames: int = 0
    policy: str = "auto"
    queue_size: int = 4
    pair_queue: int = 64
    stall_timeout: float = 5.0
    overlay: bool = False
    out_fps: float | None = None
    stats_path: str | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(f"policy {self.policy!r} must be one of {', '.join(POLICIES)}"
                              f".{did_you_mean(self.policy, POLICIES)}")
        checks = [("tolerance_ms", self.tolerance_ms >= 0), ("max_frames", self.max_frames >= 0),
                  ("queue_size", self.queue_size >= 1), ("pair_queue", self.pair_queue >= 2),
                  ("stall_timeout", self.stall_timeout > 0),
                  ("out_fps", self.out_fps is None or self.out_fps > 0)]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} is out of range")
        object.__setattr__(self, "outputs", tuple(self.outputs))

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> StreamConfig:
        """Build from a mapping plus overrides (overrides that are ``None`` are ignored)."""
        reject_unknown(data, [f.name for f in dataclasses.fields(cls)], "stream", list_known=True)
        check_field_types(cls, data, "stream")
        merged = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**merged)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], **overrides: Any) -> StreamConfig:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"stream config not found: {p}")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise DataError(f"cannot parse {p}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{p} must hold a mapping of stream options")
        return cls.from_dict(data, **overrides)

    def to_yaml(self) -> str:
        data = dataclasses.asdict(self)
        data["outputs"] = list(self.outputs)
        return yaml.safe_dump(data, sort_keys=False)


__all__ = ["POLICIES", "StreamConfig"]
