"""Live, synchronized IR + visible fusion: sources by URI, pairing, registration, pipeline, sinks.

``run_stream`` is ``edgefuse stream`` as a function; ``StreamRunner`` is the pipeline under it.
"""

from __future__ import annotations

from edgefuse.stream import camera as _camera  # noqa: F401 (registers v4l2://, csi://, rtsp://, gst://)
from edgefuse.stream.api import run_stream
from edgefuse.stream.config import POLICIES, StreamConfig
from edgefuse.stream.frames import Frame, RetimedSource, Source
from edgefuse.stream.methods import FuserBackend
from edgefuse.stream.registration import Registrar, Rig, calibrate_checkerboards, calibrate_points, load_rig
from edgefuse.stream.runtime import StreamRunner, write_stats
from edgefuse.stream.sink_base import SINKS, Fused, Sink, SinkKind, register_sink, sink_kind
from edgefuse.stream.sinks import create_sink
from edgefuse.stream.sources import SOURCES, SyntheticSource, decode_index, open_source
from edgefuse.stream.sync import FramePair, Pairer, PairStats

__all__ = ["POLICIES", "SINKS", "SOURCES", "Frame", "FramePair", "Fused", "FuserBackend", "PairStats", "Pairer",
           "Registrar", "RetimedSource", "Rig", "Sink", "SinkKind", "Source", "StreamConfig", "StreamRunner",
           "SyntheticSource", "calibrate_checkerboards", "calibrate_points", "create_sink", "decode_index",
           "load_rig", "open_source", "register_sink", "run_stream", "sink_kind", "write_stats"]
