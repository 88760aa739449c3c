"""The threaded pipeline: counts, true pairs, mp4/folder output, policies, stalls, stats."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from edgefuse.errors import StreamTimeout
from edgefuse.stream import StreamConfig, StreamRunner, open_source
from edgefuse.stream.registration import Rig
from edgefuse.stream.sinks import create_sink
from edgefuse.stream.sources import decode_index
from tests.stream.helpers import FakeBackend, RecordingSink, count_frames, m3svd, write_clip

ISSUE_KEYS = {"pairs", "dropped_ir", "dropped_vis", "skew_ms", "fps", "latency_ms", "backend"}


def check_accounting(st: dict) -> None:
    # unpaired frames are dropped_*; read-ahead frames thrown away at a stop are discarded_*
    assert st["frames_ir"] == st["pairs"] + st["dropped_ir"] + st["discarded_ir"]
    assert st["frames_vis"] == st["pairs"] + st["dropped_vis"] + st["discarded_vis"]
    assert st["pairs"] == st["frames_out"] + st["skipped_pairs"]


def test_synthetic_skewed_pair_with_drops_to_mp4_and_stats(tmp_path):
    q = "size=96x64&frames=90&jitter_ms=5&drop=0.1"
    cfg = StreamConfig(ir=f"synthetic://ir?{q}&offset_ms=-35&seed=1", vis=f"synthetic://vis?{q}&seed=2",
                       offset_ms=35, tolerance_ms=12, outputs=(str(tmp_path / "out.mp4"),),
                       stats_path=str(tmp_path / "stats.json"))
    rec = RecordingSink()
    runner = StreamRunner(cfg, FakeBackend())
    runner.sinks.append(rec)
    st = runner.run()
    ir_drop, vis_drop = set(runner.sources["ir"].dropped), set(runner.sources["vis"].dropped)
    expected = 90 - len(ir_drop | vis_drop)
    assert st["pairs"] == expected == len(rec.items)
    assert all(i == v for i, v, _, _ in rec.items)  # only true pairs
    assert len({i for i, *_ in rec.items}) == len(rec.items)  # none twice
    assert [s for *_, s, _ in rec.items] == list(range(expected))  # in order
    check_accounting(st)
    assert st["dropped_ir"] == 90 - len(ir_drop) - expected and st["skew_ms"]["max"] <= 12
    assert count_frames(tmp_path / "out.mp4") == st["pairs"]
    saved = json.loads((tmp_path / "stats.json").read_text())
    assert ISSUE_KEYS <= set(saved) and set(saved["skew_ms"]) == {"max", "mean"}
    assert set(saved["latency_ms"]) == {"p50", "p99"} and saved["backend"] == "fake" and saved["policy"] == "all"
    assert rec.closed == 1 and not list(tmp_path.glob(".*partial*"))


def test_m3svd_clips_with_offset_and_jitter_every_pair_is_true(tmp_path):
    video = m3svd() / "video"
    opts = "jitter_ms=6&drop=0.08"
    cfg = StreamConfig(ir=f"file://{video}/ir/0111_1716.mp4?{opts}&offset_ms=45&seed=11",
                       vis=f"file://{video}/vi/0111_1716.mp4?{opts}&seed=12",
                       offset_ms=-45, tolerance_ms=15, outputs=(str(tmp_path / "fused.mp4"),))
    rec = RecordingSink()
    runner = StreamRunner(cfg, FakeBackend(), sinks=[create_sink(cfg.outputs[0]), rec])
    st = runner.run()
    ir_drop, vis_drop = set(runner.sources["ir"].dropped), set(runner.sources["vis"].dropped)
    assert ir_drop and vis_drop
    assert all(i == v for i, v, _, _ in rec.items)
    assert sorted(i for i, *_ in rec.items) == sorted(set(range(151)) - ir_drop - vis_drop)
    check_accounting(st)
    assert st["frames_ir"] == 151 - len(ir_drop) and st["frames_vis"] == 151 - len(vis_drop)
    assert count_frames(tmp_path / "fused.mp4") == st["pairs"] == st["frames_out"]


def test_folder_input_and_output_with_rig(tmp_path):
    ir_clip = write_clip(tmp_path / "ir.mp4", "ir", frames=12, size=(64, 48))
    vis_clip = write_clip(tmp_path / "vis.mp4", "vis", frames=12, size=(128, 96))
    rig = Rig(np.diag([2.0, 2.0, 1.0]), ir_size=(64, 48), vis_size=(128, 96))
    cfg = StreamConfig(ir=f"file://{ir_clip}", vis=f"file://{vis_clip}", outputs=(str(tmp_path / "frames") + "/",))
    st = StreamRunner(cfg, FakeBackend(), rig=rig).run()
    files = sorted((tmp_path / "frames").glob("*.png"))
    assert st["pairs"] == 12 == len(files) and files[0].name == "000000.png"
    # second pass: the written frames are a folder source
    frames = []
    with open_source(f"file://{tmp_path / 'frames'}") as src:
        while (f := src.read(0.1)) is not None or src.is_streaming:
            frames += [f] if f is not None else []
    assert len(frames) == 12 and frames[0].image.shape == (96, 128, 3)
    assert [decode_index(f.image) for f in frames] == list(range(12))  # registered + fused, index cells intact


def test_max_frames(tmp_path):
    cfg = StreamConfig(ir="synthetic://ir?size=32x32", vis="synthetic://vis?size=32x32", max_frames=7)
    st = StreamRunner(cfg, FakeBackend()).run()
    assert st["pairs"] == 7 == st["frames_out"] and st["stopped_by"] == "max frames"
    check_accounting(st)


def test_latest_policy_skips_pairs_for_a_slow_model():
    cfg = StreamConfig(ir="synthetic://ir?size=32x32&fps=100&frames=60&realtime=1",
                       vis="synthetic://vis?size=32x32&fps=100&frames=60&realtime=1")
    runner = StreamRunner(cfg, FakeBackend(delay_s=0.04))
    assert runner.policy == "latest"  # paced sources pick the live policy
    st = runner.run()
    assert st["pairs"] == 60 and st["skipped_pairs"] > 20 and st["frames_out"] < 40
    check_accounting(st)
    assert st["latency_ms"]["p50"] < 200  # newest pair wins: latency does not build up


def test_all_policy_runs_at_the_model_speed_not_the_sum_of_stages():
    # decode (synthetic render) + prep + 20 ms model + sink; concurrency keeps it near 50 fps
    cfg = StreamConfig(ir="synthetic://ir?size=320x240&frames=40", vis="synthetic://vis?size=320x240&frames=40",
                       policy="all")
    backend = FakeBackend(delay_s=0.02)
    st = StreamRunner(cfg, backend).run()
    assert st["frames_out"] == 40
    assert st["fps"] >= 0.75 * 1000 / st["infer_ms"]["mean"]


def test_stalled_source_is_reported_not_hung_on(tmp_path):
    cfg = StreamConfig(ir="synthetic://ir?size=32x32&stall_after=5", vis="synthetic://vis?size=32x32",
                       stall_timeout=0.5, stats_path=str(tmp_path / "s.json"))
    runner = StreamRunner(cfg, FakeBackend())
    start = time.monotonic()
    with pytest.raises(StreamTimeout, match="synthetic://ir.*no frame"):
        runner.run()
    assert time.monotonic() - start < 3
    st = json.loads((tmp_path / "s.json").read_text())
    assert st["stopped_by"] == "error" and "no frame" in st["error"] and st["pairs"] >= 4
    check_accounting(st)


def test_stop_from_another_thread_finishes_cleanly(tmp_path):
    cfg = StreamConfig(ir="synthetic://ir?size=64x48&realtime=1", vis="synthetic://vis?size=64x48&realtime=1",
                       outputs=(str(tmp_path / "o.mp4"),), overlay=True)
    runner = StreamRunner(cfg, FakeBackend())
    threading.Timer(0.6, runner.stop, args=("test",)).start()
    st = runner.run()
    assert st["stopped_by"] == "test" and st["frames_out"] > 5
    assert count_frames(tmp_path / "o.mp4") == st["frames_out"]
    check_accounting(st)


def test_backend_failure_ends_the_stream_and_is_raised():
    class Broken(FakeBackend):
        def fuse_u8(self, vis, ir):
            raise RuntimeError("boom")

    cfg = StreamConfig(ir="synthetic://ir?size=32x32&frames=50", vis="synthetic://vis?size=32x32&frames=50")
    runner = StreamRunner(cfg, Broken())
    with pytest.raises(RuntimeError, match="boom"):
        runner.run()
    assert runner.stats["frames_out"] == 0 and runner.stats["stopped_by"] == "error"
    check_accounting(runner.stats)


def test_config_yaml_round_trip_and_errors(tmp_path):
    from edgefuse.errors import ConfigError, DataError

    cfg = StreamConfig(ir="file://a.mp4", vis="file://b.mp4", outputs=("o.mp4", "http://0.0.0.0:8080"), offset_ms=12)
    (tmp_path / "s.yaml").write_text(cfg.to_yaml())
    assert StreamConfig.from_yaml(tmp_path / "s.yaml") == cfg
    assert StreamConfig.from_yaml(tmp_path / "s.yaml", tolerance_ms=5, rig=None).tolerance_ms == 5
    (tmp_path / "bad.yaml").write_text("tolerence_ms: 3\n")
    with pytest.raises(ConfigError, match="Did you mean 'tolerance_ms'"):
        StreamConfig.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError):
        StreamConfig(policy="newest")
    with pytest.raises(DataError):
        StreamConfig.from_yaml(tmp_path / "none.yaml")


def test_create_sink_kinds(tmp_path):
    from edgefuse.errors import ConfigError
    from edgefuse.stream.sinks import FolderSink, VideoSink, WindowSink

    assert isinstance(create_sink(str(tmp_path / "a.mp4")), VideoSink)
    assert isinstance(create_sink(str(tmp_path / "frames") + "/"), FolderSink)
    assert isinstance(create_sink(str(tmp_path)), FolderSink)
    assert isinstance(create_sink("display://0"), WindowSink)
    for bad in ("rtmp://host/live", str(tmp_path / "x.gif")):
        with pytest.raises(ConfigError):
            create_sink(bad)
