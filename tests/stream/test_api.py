"""The sink registry, the stream package's import graph, and ``run_stream`` (the library form of the command)."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import edgefuse.stream
from edgefuse.cli.main import cli
from edgefuse.errors import ConfigError, ShapeMismatchError
from edgefuse.registry import Registry
from edgefuse.stream import SINKS, Sink, SinkKind, StreamConfig, run_stream, sink_kind
from edgefuse.stream import sink_base
from edgefuse.stream.sinks import FolderSink, VideoSink, WindowSink, create_sink
from edgefuse.stream.sources import SyntheticSource, decode_index
from edgefuse.stream.viewer import ViewerSink
from tests.stream.helpers import FakeBackend, RecordingSink, count_frames, m3svd

STREAM_DIR = Path(edgefuse.stream.__file__).parent


def stream_imports() -> dict[str, dict[str, int]]:
    """For each module of edgefuse/stream: the package modules it imports -> indentation of the import (0 = top)."""
    modules = {p.stem for p in STREAM_DIR.glob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for path in sorted(STREAM_DIR.glob("*.py")):
        deps: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module == "edgefuse.stream":
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgefuse.stream."):
                names = [node.module.split(".")[2]]  # type: ignore[union-attr]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[2] for a in node.names if a.name.startswith("edgefuse.stream.")]
            for name in names:
                if name in modules and name != path.stem:
                    deps[name] = max(deps.get(name, 0), node.col_offset)
        graph[path.stem] = deps
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"sinks": {"viewer": 0}, "viewer": {"sinks": 8}}) == ["sinks", "viewer", "sinks"]
    assert find_cycle({"sinks": {"viewer": 0, "sink_base": 0}, "viewer": {"sink_base": 0}, "sink_base": {}}) is None


def test_stream_modules_import_no_cycle_and_nothing_inside_functions():
    graph = stream_imports()
    assert "sinks" not in graph["viewer"] and "viewer" not in graph["sink_base"] and "sinks" not in graph["sink_base"]
    assert "sink_base" in graph["viewer"] and "sink_base" in graph["sinks"]
    assert find_cycle(graph) is None
    nested = {(mod, dep) for mod, deps in graph.items() for dep, col in deps.items() if col > 0}
    assert not nested, f"imports of edgefuse.stream modules inside functions: {sorted(nested)}"


def test_base_types_are_shared():
    assert edgefuse.stream.sinks.Fused is sink_base.Fused is edgefuse.stream.viewer.Fused
    assert issubclass(ViewerSink, sink_base.Sink) and issubclass(VideoSink, sink_base.Sink)


EXPECTED_KINDS = {"video": VideoSink, "folder": FolderSink, "http": ViewerSink, "display": WindowSink}


def test_every_registered_sink_kind_is_created_from_its_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert set(EXPECTED_KINDS) <= set(SINKS.names())
    for name in SINKS.names():
        kind = SINKS.get(name)
        assert sink_kind(kind.example) is kind, name
        sink = create_sink(kind.example)
        assert isinstance(sink, Sink), name
        if name in EXPECTED_KINDS:
            assert type(sink) is EXPECTED_KINDS[name]
    assert not list(tmp_path.iterdir())  # creating a sink writes nothing


@pytest.mark.parametrize("spec,kind", [
    ("out/clip.MKV", "video"), ("file://x.avi", "video"), ("frames/", "folder"), ("frames", "folder"),
    ("file://frames/", "folder"), ("http://127.0.0.1:0?token=t&linger=2", "http"), ("display://0", "display"),
    ("window", "display"),
])
def test_sink_kind_of_spec(spec, kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sink_kind(spec).name == kind


def test_viewer_options_survive_the_registry():
    sink = create_sink("http://127.0.0.1:0?token=abc&linger=1.5")
    assert isinstance(sink, ViewerSink) and (sink.host, sink.port, sink.token, sink.linger) == ("127.0.0.1", 0, "abc", 1.5)


@pytest.mark.parametrize("spec,msg", [("rtmp://host/live", "unknown output"), ("x.gif", "not a video suffix"),
                                      ("http://127.0.0.1", "give a port")])
def test_sink_specs_that_name_nothing(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        create_sink(spec)


def test_a_new_sink_kind_registers_and_runs(tmp_path, monkeypatch):
    registry: Registry[SinkKind] = Registry("stream sink kind")
    for name in SINKS.names():
        registry.add(name, SINKS.get(name))
    monkeypatch.setattr(sink_base, "SINKS", registry)
    made: list[RecordingSink] = []

    def memory(spec: str, fps: float | None, fps_fn: object) -> Sink:
        made.append(RecordingSink())
        return made[-1]

    sink_base.register_sink(SinkKind("memory", memory, "memory", "mem://run", schemes=("mem",)))
    with pytest.raises(ValueError, match="already selects 'video'"):
        sink_base.register_sink(SinkKind("other", memory, "other", "x.mp4", suffixes=(".mp4",)))
    stats = run_stream(ir="synthetic://ir?size=64x48&frames=9", vis="synthetic://vis?size=64x48&frames=9",
                       fuser="average", outputs=["mem://run"])
    assert stats["frames_out"] == 9 and [i for i, *_ in made[0].items] == list(range(9)) and made[0].closed == 1
    assert "memory" not in SINKS  # the real registry is untouched


def mean_fuser(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
    return ((vis.astype(np.uint16) + ir[:, :, None]) // 2).astype(np.uint8)


def test_run_stream_on_m3svd_clips_with_a_fuser_function(tmp_path):
    video = m3svd() / "video"
    rec = RecordingSink()
    stats = run_stream(ir=f"file://{video}/ir/0111_1716.mp4", vis=f"file://{video}/vi/0111_1716.mp4",
                       fuser=mean_fuser, outputs=[str(tmp_path / "fused.mp4"), rec], max_frames=20,
                       tolerance_ms=15, stats_path=tmp_path / "stats.json")
    assert stats["pairs"] == stats["frames_out"] == 20 == len(rec.items) and stats["stopped_by"] == "max frames"
    assert all(i == v for i, v, _, _ in rec.items) and rec.closed == 1  # same clock: every pair is frame i with i
    assert stats["backend"] == "mean_fuser" and stats["policy"] == "all"
    assert count_frames(tmp_path / "fused.mp4") == 20
    with (tmp_path / "fused.mp4.frames.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 20
    assert json.loads((tmp_path / "stats.json").read_text())["frames_out"] == 20


def test_run_stream_synthetic_config_hooks_and_loaded_backend(tmp_path):
    cfg = StreamConfig(ir="synthetic://ir?size=96x64&frames=40", vis="synthetic://vis?size=96x64&frames=40",
                       outputs=(str(tmp_path / "frames") + "/",), max_frames=30)
    backend = FakeBackend()
    entered: list[str] = []

    class Loaded(FakeBackend):
        def __enter__(self) -> FakeBackend:
            entered.append("enter")
            return backend

        def __exit__(self, *exc: object) -> None:
            entered.append("exit")

    seen: list[str] = []
    stats = run_stream(cfg, load_fuser=lambda: (seen.append("load"), Loaded())[1], max_frames=12,
                       on_ready=lambda r: seen.append(f"ready {len(r.sinks)}"),
                       on_end=lambda r: seen.append(f"end {r.stats['frames_out']} {r.started}"))
    assert seen == ["ready 1", "load", "end 12 True"] and entered == ["enter", "exit"]  # sinks checked before loading
    assert stats["frames_out"] == 12 == backend.calls and stats["backend"] == "fake"  # the keyword beat the config's 30
    files = sorted((tmp_path / "frames").glob("*.png"))
    assert len(files) == 12 and (tmp_path / "frames" / "frames.csv").is_file()


def test_run_stream_with_source_objects_and_method_name():
    ir = SyntheticSource("synthetic://ir", mode="ir", size=(64, 48), frames=7)
    vis = SyntheticSource("synthetic://vis", mode="vis", size=(64, 48), frames=7)
    rec = RecordingSink()
    stats = run_stream(ir=ir, vis=vis, fuser="max", outputs=[rec])
    assert stats["frames_out"] == 7 and stats["backend"] == "max" and [i for i, *_ in rec.items] == list(range(7))
    assert stats["ir"] == "synthetic://ir"


def test_run_stream_fused_frames_come_from_the_fuser():
    seen: list[int] = []

    def keep_ir(vis: np.ndarray, ir: np.ndarray) -> np.ndarray:
        seen.append(decode_index(ir))
        return np.repeat(ir[:, :, None], 3, axis=2)

    class Check(RecordingSink):
        def write(self, item) -> None:
            super().write(item)
            assert decode_index(item.fused) == item.pair.ir.index

    rec = Check()
    run_stream(ir="synthetic://ir?size=128x96&frames=5", vis="synthetic://vis?size=128x96&frames=5",
               fuser=keep_ir, outputs=[rec])
    assert seen == [0, 1, 2, 3, 4] and len(rec.items) == 5


def test_run_stream_refuses_bad_fusers_and_missing_sources():
    src = {"ir": "synthetic://ir?size=32x32&frames=3", "vis": "synthetic://vis?size=32x32&frames=3"}
    with pytest.raises(ConfigError, match="give a fuser"):
        run_stream(**src)
    with pytest.raises(ConfigError, match="not both"):
        run_stream(**src, fuser="max", load_fuser=FakeBackend)
    with pytest.raises(ConfigError, match="Did you mean 'max'"):
        run_stream(**src, fuser="maxx")
    with pytest.raises(ConfigError, match="--vis"):
        run_stream(ir=src["ir"], fuser="max")
    with pytest.raises(ShapeMismatchError, match="must return a uint8 array of shape"):
        run_stream(**src, fuser=lambda vis, ir: ir)  # grey out: not the visible frame's HxWx3


def test_cli_calls_run_stream(tmp_path, monkeypatch):
    calls: list[tuple[tuple, dict]] = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return {"stopped_by": "end of stream"}

    monkeypatch.setattr(edgefuse.stream, "run_stream", spy)
    res = CliRunner().invoke(cli, ["stream", "--ir", "synthetic://ir", "--vis", "synthetic://vis", "--method", "max",
                                   "--out", "a.mp4", "--out", "b/", "--max-frames", "5", "--tolerance-ms", "7"])
    assert res.exit_code == 0, res.output
    (args, kw), = calls
    assert args == (None, "max") and kw["load_fuser"] is None and kw["outputs"] == ("a.mp4", "b/")
    assert (kw["ir"], kw["vis"], kw["max_frames"], kw["tolerance_ms"]) == ("synthetic://ir", "synthetic://vis", 5, 7.0)
    assert kw["install_signals"] is True
    calls.clear()
    res = CliRunner().invoke(cli, ["stream", "--ir", "synthetic://ir", "--vis", "synthetic://vis",
                                   "--config", str(tmp_path / "s.yaml"), "--onnx", "m.onnx"])
    (args, kw), = calls
    assert args == (str(tmp_path / "s.yaml"), None) and callable(kw["load_fuser"]) and kw["outputs"] is None


def test_cli_run_with_method_prints_summary_and_note(tmp_path):
    res = CliRunner().invoke(cli, ["stream", "--ir", "synthetic://ir?size=64x48&frames=6", "--vis",
                                   "synthetic://vis?size=64x48&frames=6", "--method", "average", "--stats",
                                   str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    assert "note: no --out given" in res.output and "6 pairs" in res.output and f"wrote {tmp_path / 's.json'}" in res.output
    res = CliRunner().invoke(cli, ["stream", "--ir", "synthetic://ir", "--vis", "synthetic://vis", "--method", "max",
                                   "--model", "x"])
    assert res.exit_code == 2 and "drop --engine/--onnx/--model" in res.output
