"""Live, synchronized IR + visible fusion: sources by URI, pairing, registration, pipeline, sinks."""

from __future__ import annotations

from edgefuse.stream import camera as _camera  # noqa: F401 (registers v4l2://, csi://, rtsp://, gst://)
from edgefuse.stream.config import POLICIES, StreamConfig
from edgefuse.stream.frames import Frame, RetimedSource, Source
from edgefuse.stream.registration import Registrar, Rig, calibrate_checkerboards, calibrate_points, load_rig
from edgefuse.stream.runtime import StreamRunner, run_stream, write_stats
from edgefuse.stream.sinks import Fused, Sink, create_sink
from edgefuse.stream.sources import SOURCES, SyntheticSource, decode_index, open_source
from edgefuse.stream.sync import FramePair, Pairer, PairStats

__all__ = ["POLICIES", "SOURCES", "Frame", "FramePair", "Fused", "PairStats", "Pairer", "Registrar",
           "RetimedSource", "Rig", "Sink", "Source", "StreamConfig", "StreamRunner", "SyntheticSource",
           "calibrate_checkerboards", "calibrate_points", "create_sink", "decode_index", "load_rig", "open_source",
           "run_stream", "write_stats"]
