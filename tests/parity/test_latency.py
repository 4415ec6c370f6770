"""Latency statistics with a fake clock (never a timed assert)."""

from __future__ import annotations

import pytest

from styleport.parity import latency


def test_measure_warms_up_then_reports_median_and_p90(monkeypatch):
    ticks = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020, 3.0, 3.100])  # 10, 30, 20, 100 ms
    monkeypatch.setattr(latency.time, "perf_counter", lambda: next(ticks))
    calls = []
    result = latency.measure(lambda: calls.append(1), runs=4, size=(8, 9), warmup=2)
    assert len(calls) == 6  # 2 untimed warm-ups + 4 timed runs
    assert result.median_ms == pytest.approx(25.0)
    assert result.p90_ms == pytest.approx(79.0)  # numpy linear: 30 + 0.7 * (100 - 30)
    assert (result.min_ms, result.max_ms, result.runs, result.size) == (
        pytest.approx(10.0),
        pytest.approx(100.0),
        4,
        (8, 9),
    )


def test_measure_needs_a_run():
    with pytest.raises(ValueError):
        latency.measure(lambda: None, runs=0, size=(1, 1))
