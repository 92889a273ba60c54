"""Duration and throughput figures, fed with explicit times."""

from __future__ import annotations

import pytest

from noormme_queue.memory.metrics import RunMetrics, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 95) is None


def test_run_metrics_mean_and_p95() -> None:
    metrics = RunMetrics()
    assert metrics.mean() is None
    assert metrics.percentile(95) is None
    for k in range(1, 21):
        metrics.record(100.0, 100.0 + k / 100)  # durations 0.01 .. 0.20
    assert metrics.runs == 20
    assert metrics.mean() == pytest.approx(0.105)
    assert metrics.percentile(95) == pytest.approx(0.19)


def test_percentiles_follow_the_recent_sample() -> None:
    metrics = RunMetrics(sample_size=10)
    for _ in range(100):
        metrics.record(0.0, 5.0)
    for _ in range(10):
        metrics.record(10.0, 10.5)
    assert metrics.percentile(95) == pytest.approx(0.5)
    assert metrics.mean() == pytest.approx((100 * 5.0 + 10 * 0.5) / 110)


def test_throughput_counts_recent_jobs_per_second() -> None:
    metrics = RunMetrics(rate_window=10)
    assert metrics.throughput(0.0) == 0.0
    for k in range(50):  # 50 jobs finished over 5 s, from t=1000
        metrics.record(1000.0 + k * 0.1, 1000.0 + k * 0.1 + 0.05)
    assert metrics.throughput(1005.0) == pytest.approx(50 / 5.0)
    # Batches count every job they finished.
    metrics.record(1005.0, 1005.5, count=50)
    assert metrics.throughput(1010.0) == pytest.approx(100 / 10.0)
    # Long after, the window holds nothing: the queue is idle.
    assert metrics.throughput(2000.0) == 0.0
