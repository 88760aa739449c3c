"""``edgefuse stream``: live, synchronized IR + visible fusion from two sources to sinks."""

from __future__ import annotations

import functools
import signal
import sys
from typing import Any

import click

from edgefuse.errors import ConfigError

# exit status after a stop by signal: 128 + the signal number, as shells report it (train does the same for SIGINT)
SIGNAL_EXIT = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM}


def _summary(stats: dict[str, Any]) -> str:
    return (f"stream ({stats['stopped_by']}): {stats['pairs']} pairs, {stats['frames_out']} frames out, "
            f"dropped ir/vis {stats['dropped_ir']}/{stats['dropped_vis']}, skipped {stats['skipped_pairs']}, "
            f"skew max/mean {stats['skew_ms']['max']:.1f}/{stats['skew_ms']['mean']:.1f} ms, "
            f"{stats['fps']:.1f} fps, latency p50/p99 {stats['latency_ms']['p50']:.0f}/"
            f"{stats['latency_ms']['p99']:.0f} ms ({stats['backend']})")


@click.command("stream")
@click.option("--ir", help="IR source URI: file://clip.mp4, file://frames/, v4l2:///dev/video1, csi://1, "
              "rtsp://..., gst://PIPELINE, synthetic://ir")
@click.option("--vis", help="Visible source URI (same schemes).")
@click.option("--rig", type=click.Path(dir_okay=False), help="Rig file from `edgefuse rig calibrate` "
              "(IR->visible matrix, clock offset, resolutions).")
@click.option("--engine", type=click.Path(dir_okay=False), help="TensorRT plan.")
@click.option("--onnx", type=click.Path(dir_okay=False), help="ONNX file (ONNX Runtime).")
@click.option("--model", help="Shipped model name, checkpoint, .onnx or .plan  [default: the shipped student; run through "
              "ONNX Runtime from a cached export where it is installed, else torch; EDGEFUSE_BACKEND=torch forces torch]")
@click.option("--random-weights", is_flag=True,
              help="Let --model be an architecture name (seeded random weights: timing only).")
@click.option("--method", type=click.Choice(["average", "max", "laplacian"]),
              help="A classical fusion method instead of a model (no backend needed).")
@click.option("--device", help="cpu / cuda (torch, ONNX Runtime), tensorrt (ONNX Runtime EP).")
@click.option("--threads", type=int, default=0, show_default=True, help="CPU threads for the backend (0 = default).")
@click.option("--out", "outputs", multiple=True, help="Repeatable: video file (.mp4), folder (DIR/), "
              "http://HOST:PORT (web viewer) or display://.")
@click.option("--tolerance-ms", type=float, help="Largest timestamp difference of a pair  [default: 20]")
@click.option("--offset-ms", type=float, help="Added to IR timestamps before pairing  [default: the rig's, else 0]")
@click.option("--max-frames", type=int, help="Stop after N pairs  [default: until the sources end]")
@click.option("--policy", type=click.Choice(["auto", "latest", "all"]),
              help="latest: newest pair when the model is slow (live); all: every pair (offline)  [default: auto]")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False), help="Write the stats JSON here at the end.")
@click.option("--overlay/--no-overlay", default=None, help="Draw FPS and latency on the output.")
@click.option("--out-fps", type=float, help="Frame rate of written video files  [default: the sources' rate]")
@click.option("--stall-timeout", type=float, help="Seconds without a frame before a source counts as stalled "
              "[default: 5]")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="StreamConfig YAML; flags override it.")
def stream_cmd(engine: str | None, onnx: str | None, model: str | None, random_weights: bool, method: str | None,
               device: str | None, threads: int,
               config_path: str | None, outputs: tuple[str, ...], **flags: Any) -> None:
    """Pair IR and visible frames by timestamp, register, fuse with a backend, and write/serve the result."""
    # imported here, not at the top: `edgefuse --help` and the other commands need none of it (cv2, torch)
    from edgefuse.stream import StreamRunner, run_stream

    if method is not None and (engine or onnx or model):
        raise ConfigError("--method runs a classical method; drop --engine/--onnx/--model")

    def ready(runner: StreamRunner) -> None:
        if not runner.sinks:
            click.echo("note: no --out given; frames are fused and counted but not kept", err=True)

    def ended(runner: StreamRunner) -> None:
        if runner.stats and runner.started:  # an open failure has nothing to summarise: the error says it
            click.echo(_summary(runner.stats))
        if runner.config.stats_path and runner.stats_written:
            click.echo(f"wrote {runner.config.stats_path}")

    load = None if method else functools.partial(_open_model, engine, onnx, model, device, threads, random_weights)
    stats = run_stream(config_path, method, load_fuser=load, outputs=outputs or None,
                       install_signals=True,  # Ctrl-C/SIGTERM end the run cleanly, not by an exception
                       on_ready=ready, on_end=ended, **flags)
    code = SIGNAL_EXIT.get(stats["stopped_by"])
    if code:
        click.echo(f"stream: stopped by {stats['stopped_by']}", err=True)
        sys.exit(code)


def _open_model(engine: str | None, onnx: str | None, model: str | None, device: str | None, threads: int,
                random_weights: bool = False) -> Any:
    """The backend for --engine/--onnx/--model (none: the shipped student), by the fastest path (``open_model``).

    Idle ONNX Runtime threads must not spin here: the capture, fusion and sink stages share the cores.
    """
    from edgefuse.fusion import open_model  # looked up per call (the CLI tests swap it for a fake)
    from edgefuse.runtime import resolve

    art = resolve(engine or onnx or model, random_weights=random_weights)
    backend = open_model(model, engine=engine, onnx=onnx, device=device, threads=threads, random_weights=random_weights,
                         spin=False)
    click.echo(art.summary(), err=True)  # once it loaded: an error stays one line
    return backend
