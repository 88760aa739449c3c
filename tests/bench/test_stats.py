"""Latency statistics, the variation warning and stage means."""

from __future__ import annotations

import pytest

from edgefuse.bench.stats import LATENCY_KEYS, latency_stats, round_floats, stage_means, variation, variation_warning


def test_latency_stats_known_values():
    s = latency_stats([float(v) for v in range(1, 101)])
    assert tuple(s) == LATENCY_KEYS
    assert s["p50"] == pytest.approx(50.5)
    assert s["p90"] == pytest.approx(90.1)
    assert s["p99"] == pytest.approx(99.01)
    assert s["mean"] == pytest.approx(50.5)
    assert s["min"] == 1.0 and s["max"] == 100.0
    assert s["std"] == pytest.approx(28.866, abs=1e-3)


def test_single_sample_and_empty():
    s = latency_stats([3.0])
    assert s["p50"] == s["p99"] == s["min"] == s["max"] == 3.0 and s["std"] == 0.0
    with pytest.raises(ValueError):
        latency_stats([])


def test_variation_warning_thresholds():
    steady = latency_stats([10.0, 10.1, 9.9, 10.0, 10.05, 9.95] * 5)
    assert variation_warning(steady, 30) is None
    noisy = latency_stats([10.0] * 25 + [40.0] * 5)
    msg = variation_warning(noisy, 30, threads=0)
    assert msg is not None and "variation is high" in msg and "--threads" in msg and "\n" not in msg
    assert "--threads" not in variation_warning(noisy, 30, threads=2)
    assert variation(noisy)["tail"] > 1.5
    assert "only 3 timed iterations" in variation_warning(steady, 3)


def test_stage_means_order_and_common_keys():
    rows = [{"post": 1.0, "compute": 4.0, "pre": 2.0}, {"compute": 6.0, "pre": 4.0, "post": 3.0, "h2d": 1.0}]
    assert stage_means(rows) == {"pre": 3.0, "compute": 5.0, "post": 2.0}
    assert stage_means([]) == {}


def test_round_floats_nested():
    assert round_floats({"a": [1.234567, {"b": float("nan")}], "c": 2}, 2) == {"a": [1.23, {"b": None}], "c": 2}
