"""``run_stream``: the library form of ``edgefuse stream``, with the command's options as arguments.

``edgefuse stream`` parses its flags, turns ``--model``/``--engine``/``--onnx`` into a backend
loader and calls ``run_stream``; everything else the command does (building the config from
flags and YAML, checking sources, sinks and the rig before the model loads, running with
signal handling, keeping a lingering viewer up) happens here, so a script gets the same run,
e.g. ``edgefuse stream --ir file://ir.mp4 --vis file://vis.mp4 --method max --out fused.mp4``
is ``edgefuse.stream.run_stream(ir="file://ir.mp4", vis="file://vis.mp4", fuser="max",
outputs=["fused.mp4"])``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from edgefuse.errors import ConfigError
from edgefuse.stream.config import StreamConfig
from edgefuse.stream.frames import Source
from edgefuse.stream.methods import METHODS, ClassicalBackend, Fuser, FuserBackend
from edgefuse.stream.registration import Rig
from edgefuse.stream.runtime import StreamRunner
from edgefuse.stream.sink_base import Sink
from edgefuse.stream.sinks import create_sink

Hook = Callable[[StreamRunner], None]


def _config(config: StreamConfig | str | os.PathLike[str] | None, **flags: Any) -> StreamConfig:
    """``config`` (a ``StreamConfig`` or a YAML file) with the ``flags`` that are not ``None`` on top."""
    if isinstance(config, StreamConfig):
        return dataclasses.replace(config, **{k: v for k, v in flags.items() if v is not None})
    if config is not None:
        return StreamConfig.from_yaml(config, **flags)
    return StreamConfig.from_dict({}, **flags)


def _given_backend(fuser: Fuser | str | Any | None, load_fuser: Callable[[], Any] | None) -> Any:
    """A context manager giving the backend for ``fuser``; ``None`` when ``load_fuser`` will make it."""
    if fuser is not None and load_fuser is not None:
        raise ConfigError("give fuser or load_fuser, not both")
    if isinstance(fuser, str):
        return ClassicalBackend(fuser)
    if fuser is not None:
        if hasattr(fuser, "fuse_u8"):
            return contextlib.nullcontext(fuser)  # the caller's backend: the caller opens and closes it
        return FuserBackend(fuser)
    if load_fuser is None:
        raise ConfigError(f"give a fuser: a method name ({', '.join(METHODS)}), a function (vis, ir) -> fused, "
                          "a backend with fuse_u8, or load_fuser (e.g. lambda: open_backend(onnx='m.onnx'))")
    return None


def _loaded_backend(load_fuser: Callable[[], Any]) -> Any:
    """A context manager giving what ``load_fuser()`` returns (a backend, or a function made one)."""
    loaded = load_fuser()
    if hasattr(loaded, "fuse_u8"):
        return loaded if hasattr(loaded, "__enter__") else contextlib.nullcontext(loaded)
    return FuserBackend(loaded)


def run_stream(
    config: StreamConfig | str | os.PathLike[str] | None = None,
    fuser: Fuser | str | Any | None = None,
    *,
    ir: str | Source | None = None,
    vis: str | Source | None = None,
    rig: str | os.PathLike[str] | Rig | None = None,
    load_fuser: Callable[[], Any] | None = None,
    outputs: Sequence[str | Sink] | None = None,
    tolerance_ms: float | None = None,
    offset_ms: float | None = None,
    max_frames: int | None = None,
    policy: str | None = None,
    stats_path: str | os.PathLike[str] | None = None,
    overlay: bool | None = None,
    out_fps: float | None = None,
    stall_timeout: float | None = None,
    install_signals: bool = False,
    wait: bool = True,
    on_ready: Hook | None = None,
    on_end: Hook | None = None,
) -> dict[str, Any]:
    """Pair IR and visible frames by timestamp, register, fuse and write/serve the result, as ``edgefuse stream``.

    Options left ``None`` come from ``config``, else the ``StreamConfig`` defaults (the
    command's flags over its ``--config`` YAML). Sources, sinks and the rig are built and
    checked before the fuser is loaded, so a bad URI fails before a slow model load.

    Args:
        config: a ``StreamConfig``, or a StreamConfig YAML file (``--config``).
        fuser: how frames are fused: a classical method name (``average``, ``max``,
            ``laplacian``; ``--method``), a function (visible HxWx3 uint8, IR HxW uint8) ->
            fused HxWx3 uint8, or an opened backend with ``fuse_u8`` (used as given, not closed).
        ir, vis: source URIs (``--ir``/``--vis``: ``file://``, ``synthetic://``, ``v4l2://``,
            ``csi://``, ``rtsp://``, ``gst://``) or ready-made ``Source`` objects.
        rig: rig file (``--rig``) or a ``Rig``.
        load_fuser: instead of ``fuser``: called once the sources and sinks are checked; returns
            a backend (a context manager, as ``edgefuse.runtime.backends.open_backend`` does, entered and
            closed here) or a fusion function. The command passes its model loading here.
        outputs: ``--out`` values (``x.mp4``, ``DIR/``, ``http://HOST:PORT``, ``display://``,
            any kind in ``SINKS``) or ``Sink`` objects; ``None`` or empty: the config's.
        tolerance_ms, offset_ms, max_frames, policy, stats_path, overlay, out_fps, stall_timeout:
            as the ``StreamConfig`` fields (``--tolerance-ms`` ... ``--stall-timeout``).
        install_signals: stop cleanly on SIGINT/SIGTERM (main thread only); ``stats["stopped_by"]``
            then names the signal.
        wait: after the run, keep serving a viewer opened with ``?linger=S`` for its S seconds.
        on_ready: called with the ``StreamRunner`` once sources, sinks and rig are built, before
            the fuser loads.
        on_end: called with the ``StreamRunner`` when the run ended, also after an error (its
            ``stats``, ``started`` and ``stats_written`` say what happened), before ``wait``.

    Returns:
        The stats (``StreamRunner.run``; the README's "Stats" table).

    Raises:
        ConfigError: a bad option, a missing source, or no fuser.
        StreamError: a source could not be opened, stalled or failed, or an output could not be
            written (the stats are still written to ``stats_path``).
    """
    ir_uri = ir.uri if isinstance(ir, Source) else ir
    vis_uri = vis.uri if isinstance(vis, Source) else vis
    rig_path = None if rig is None or isinstance(rig, Rig) else os.fspath(rig)
    given = list(outputs or ())
    names = tuple(o.describe() if isinstance(o, Sink) else o for o in given) or None
    cfg = _config(config, ir=ir_uri, vis=vis_uri, rig=rig_path, outputs=names,
                  tolerance_ms=tolerance_ms, offset_ms=offset_ms, max_frames=max_frames, policy=policy,
                  stats_path=None if stats_path is None else os.fspath(stats_path), overlay=overlay, out_fps=out_fps, stall_timeout=stall_timeout)
    if not cfg.ir or not cfg.vis:
        raise ConfigError("give both --ir URI and --vis URI (e.g. --ir file://ir.mp4 --vis file://vis.mp4)")
    opened = _given_backend(fuser, load_fuser)
    runners: list[StreamRunner] = []

    def source_fps() -> float | None:  # the runner's, once it exists (files written after it started)
        return runners[0].source_fps() if runners else None

    sinks = None
    if any(isinstance(o, Sink) for o in given):
        sinks = [o if isinstance(o, Sink) else create_sink(o, cfg.out_fps, source_fps) for o in given]
    runner = StreamRunner(cfg, backend=None, ir_source=ir if isinstance(ir, Source) else None,
                          vis_source=vis if isinstance(vis, Source) else None, sinks=sinks,
                          rig=rig if isinstance(rig, Rig) else None)  # sources, sinks, rig: checked before the model
    runners.append(runner)
    if on_ready is not None:
        on_ready(runner)
    if opened is None and load_fuser is not None:
        opened = _loaded_backend(load_fuser)
    with opened as backend:
        runner.backend = backend
        try:
            return runner.run(install_signals=install_signals)
        finally:
            if on_end is not None:
                on_end(runner)
            if wait:
                for sink in runner.sinks:  # a viewer with ?linger= keeps showing the ended stream
                    linger = getattr(sink, "wait", None)
                    if callable(linger):
                        linger()


__all__ = ["run_stream"]
