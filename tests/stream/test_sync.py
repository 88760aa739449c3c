"""The timestamp pairer: offset, jitter, drops, rate mismatch, never a frame twice, counts add up."""

from __future__ import annotations

import numpy as np
import pytest

from edgefuse.errors import ConfigError
from edgefuse.stream.sync import Pairer
from tests.stream.helpers import frame

PERIOD = 1 / 30


def feed(pairer: Pairer, ir: list, vis: list) -> list:
    """Push frames merged in time order (as the runtime does), then end both sides."""
    events = [("ir", f, f.ts + pairer.offset) for f in ir] + [("vis", f, f.ts) for f in vis]
    events.sort(key=lambda e: e[2])
    out = []
    for side, f, _ in events:
        out += pairer.push(side, f)
    out += pairer.end("ir") + pairer.end("vis")
    return out


def stream(n: int, offset_s: float = 0.0, jitter_s: float = 0.0, drop: float = 0.0, seed: int = 0, period=PERIOD):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        u, d = rng.uniform(-1, 1), rng.uniform()
        if d >= drop:
            frames.append(frame(i * period + offset_s + u * jitter_s, i))
    return frames


def check_counts(p: Pairer, pairs: list) -> None:
    st = p.stats
    assert st.pairs == len(pairs)
    for side in ("ir", "vis"):
        # nothing left pending after end(); frames after max_pairs are discarded, not unpaired
        assert st.frames_in[side] == st.pairs + st.dropped[side] + st.discarded[side]
    ids_ir = [id(x.ir) for x in pairs]
    ids_vis = [id(x.vis) for x in pairs]
    assert len(set(ids_ir)) == len(ids_ir) and len(set(ids_vis)) == len(ids_vis)  # never twice


def test_identical_timestamps_pair_one_to_one():
    p = Pairer(tolerance_ms=5)
    pairs = feed(p, stream(20), stream(20))
    assert [(x.ir.index, x.vis.index) for x in pairs] == [(i, i) for i in range(20)]
    assert p.stats.skew_max_ms == 0 and p.stats.dropped == {"ir": 0, "vis": 0}
    check_counts(p, pairs)


def test_offset_is_needed_and_applied():
    ir, vis = stream(30, offset_s=-0.050), stream(30)  # IR clock 50 ms behind
    wrong = feed(Pairer(tolerance_ms=20), ir, vis)
    assert wrong and any(x.ir.index != x.vis.index for x in wrong)  # without the offset: wrong pairs
    p = Pairer(tolerance_ms=20, offset_ms=50)
    pairs = feed(p, ir, vis)
    assert len(pairs) == 30 and all(x.ir.index == x.vis.index for x in pairs)
    assert p.stats.skew_max_ms < 1e-6
    check_counts(p, pairs)


@pytest.mark.parametrize("seed", range(8))
def test_jitter_and_drops_only_true_pairs(seed):
    ir = stream(200, offset_s=0.040, jitter_s=0.006, drop=0.1, seed=seed)
    vis = stream(200, jitter_s=0.006, drop=0.1, seed=seed + 100)
    p = Pairer(tolerance_ms=15, offset_ms=-40)
    pairs = feed(p, ir, vis)
    assert all(x.ir.index == x.vis.index for x in pairs)
    common = {f.index for f in ir} & {f.index for f in vis}
    assert {x.ir.index for x in pairs} == common  # every true pair found
    assert p.stats.dropped["ir"] == len(ir) - len(common) and p.stats.dropped["vis"] == len(vis) - len(common)
    assert 0 < p.stats.skew_mean_ms <= p.stats.skew_max_ms <= 15
    check_counts(p, pairs)


def test_rate_mismatch_each_ir_frame_gets_its_nearest_visible():
    ir = stream(9, period=1 / 9)  # a 9 Hz thermal core
    vis = stream(30, jitter_s=0.004, seed=3)
    p = Pairer(tolerance_ms=20)
    pairs = feed(p, ir, vis)
    assert len(pairs) == 9
    for x in pairs:
        nearest = min(vis, key=lambda v: abs(v.ts - x.ir.ts))
        assert x.vis is nearest
    assert p.stats.dropped["vis"] == 21
    check_counts(p, pairs)


def test_pairs_come_out_incrementally():
    p = Pairer(tolerance_ms=10)
    assert p.push("ir", frame(0.0, 0)) == []
    assert p.push("vis", frame(0.004, 0)) == []  # IR frame 1 could still be nearer to vis 0
    out = p.push("ir", frame(0.033, 1))
    assert [(x.ir.index, x.vis.index) for x in out] == [(0, 0)]
    assert p.pending == {"ir": 1, "vis": 0}


def test_exact_match_is_emitted_at_once_and_end_flushes():
    p = Pairer(tolerance_ms=10)
    p.push("ir", frame(1.0, 0))
    assert len(p.push("vis", frame(1.0, 0))) == 1
    p.push("vis", frame(1.033, 1))
    p.push("ir", frame(1.030, 1))
    assert p.pending == {"ir": 1, "vis": 1}
    out = p.end("ir")
    assert [(x.ir.index, x.vis.index) for x in out] == [(1, 1)]
    assert p.exhausted


def test_late_and_duplicate_timestamps_are_dropped_and_counted():
    p = Pairer(tolerance_ms=10)
    p.push("ir", frame(0.1, 0))
    p.push("ir", frame(0.05, 1))  # out of order
    p.push("ir", frame(0.1, 2))  # duplicate time
    assert p.stats.late["ir"] == 2 and p.stats.dropped["ir"] == 2
    out = p.push("vis", frame(0.1, 0))
    assert len(out) == 1 and out[0].ir.index == 0


def test_max_pairs_stops_and_drops_the_rest():
    p = Pairer(tolerance_ms=5, max_pairs=5)
    pairs = feed(p, stream(20), stream(20))
    assert len(pairs) == 5 and p.full and p.exhausted
    check_counts(p, pairs)


def test_queue_is_bounded_when_one_camera_is_silent():
    p = Pairer(tolerance_ms=5, max_queue=8)
    for i in range(50):
        p.push("vis", frame(i * PERIOD, i))
    assert p.pending["vis"] == 8 and p.stats.dropped["vis"] == 42


def test_frames_that_cannot_match_are_dropped_without_waiting():
    p = Pairer(tolerance_ms=5)
    p.push("ir", frame(1.0, 0))
    p.push("vis", frame(0.5, 0))  # far too early for any IR frame still to come
    assert p.stats.dropped["vis"] == 1 and p.pending == {"ir": 1, "vis": 0}


def test_deterministic():
    ir = stream(100, jitter_s=0.01, drop=0.2, seed=1)
    vis = stream(100, jitter_s=0.01, drop=0.2, seed=2)
    a = [(x.ir.index, x.vis.index, x.skew_ms) for x in feed(Pairer(20), ir, vis)]
    b = [(x.ir.index, x.vis.index, x.skew_ms) for x in feed(Pairer(20), ir, vis)]
    assert a == b


def test_bad_arguments():
    with pytest.raises(ConfigError):
        Pairer(tolerance_ms=-1)
    with pytest.raises(ConfigError):
        Pairer().push("uv", frame(0, 0))
