"""The pure pacing rules: interval spacing and the per-minute sliding-window limiter."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noormme_queue.core.errors import ConfigError
from noormme_queue.memory.pacing import (
    CombinedPacer,
    IntervalPacer,
    SlidingWindowLimiter,
    combine_pacers,
)

WINDOW = 60.0


def test_interval_pacer_spaces_consecutive_starts() -> None:
    pacer = IntervalPacer(0.5)
    assert pacer.reserve(10.0) == 10.0
    assert pacer.reserve(10.0) == 10.5  # asked at once: waits its turn
    assert pacer.reserve(10.2) == 11.0
    assert pacer.reserve(20.0) == 20.0  # after a pause: starts at once


def test_interval_pacer_earliest_does_not_commit() -> None:
    pacer = IntervalPacer(1.0)
    pacer.record(5.0)
    assert pacer.earliest(5.5) == 6.0
    assert pacer.earliest(5.5) == 6.0
    assert pacer.earliest(7.0) == 7.0


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf])
def test_interval_pacer_rejects_non_positive_or_non_finite(bad: float) -> None:
    with pytest.raises(ConfigError, match="interval"):
        IntervalPacer(bad)


def test_limiter_allows_exactly_per_minute_in_each_minute_of_a_long_backlog() -> None:
    limiter = SlidingWindowLimiter(100)
    starts = [limiter.reserve(0.0) for _ in range(5_000)]
    assert starts == [WINDOW * (k // 100) for k in range(5_000)]


def test_limiter_burst_after_idle_then_steady_spacing() -> None:
    limiter = SlidingWindowLimiter(60, burst=5)  # one per second once the burst is spent
    first = [limiter.reserve(0.0) for _ in range(8)]
    assert first == [0.0] * 5 + [1.0, 2.0, 3.0]
    # A long idle spell refills the burst, and only the burst.
    later = [limiter.reserve(1_000.0) for _ in range(7)]
    assert later == [1_000.0] * 5 + [1_001.0, 1_002.0]


def test_limiter_default_burst_is_the_whole_minute() -> None:
    limiter = SlidingWindowLimiter(10)
    assert limiter.burst == 10
    assert [limiter.reserve(3.0) for _ in range(11)] == [3.0] * 10 + [63.0]


@pytest.mark.parametrize(
    ("per_minute", "burst"),
    [(0, None), (-3, None), (2.5, None), (True, None), (10, 0), (10, 11), (10, 1.5)],
)
def test_limiter_rejects_bad_settings(per_minute: object, burst: object) -> None:
    with pytest.raises(ConfigError):
        SlidingWindowLimiter(per_minute, burst=burst)  # type: ignore[arg-type]


# Gaps between arrivals: mostly simultaneous, some short, some idle spells.
gaps = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(min_value=0.0, max_value=2.0),
        st.sampled_from([30.0, 59.999, 60.0, 61.0, 600.0]),
    ),
    min_size=1,
    max_size=3_000,
)


@settings(max_examples=60, deadline=None)
@given(
    per_minute=st.integers(min_value=1, max_value=150),
    burst_fraction=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
    arrival_gaps=gaps,
)
def test_limiter_never_exceeds_the_window_whatever_the_arrivals(
    per_minute: int, burst_fraction: float | None, arrival_gaps: list[float]
) -> None:
    burst = None if burst_fraction is None else max(1, round(burst_fraction * per_minute))
    limiter = SlidingWindowLimiter(per_minute, burst=burst)
    spacing = WINDOW / per_minute
    effective_burst = per_minute if burst is None else burst

    arrivals: list[float] = []
    now = 0.0
    for gap in arrival_gaps:
        now += gap
        arrivals.append(now)
    starts = [limiter.reserve(t) for t in arrivals]

    for arrival, start in zip(arrivals, starts, strict=True):
        assert start >= arrival  # waits, never runs early
    assert starts == sorted(starts)  # first come, first served
    # Never more than per_minute starts in any 60 s window [a, a + 60).
    for i in range(len(starts) - per_minute):
        assert starts[i + per_minute] >= starts[i] + WINDOW
    # Never more than `burst` back to back, then no faster than the steady rate.
    if burst is not None:
        for i in range(len(starts)):
            for j in range(i + 1, min(len(starts), i + effective_burst + 3)):
                allowed = effective_burst + (starts[j] - starts[i]) / spacing
                assert j - i + 1 <= allowed + 1e-9
    # After a full idle window the limiter does not hold anything back.
    for k in range(1, len(starts)):
        if arrivals[k] - starts[k - 1] >= max(WINDOW, effective_burst * spacing):
            assert starts[k] == arrivals[k]


def test_combined_pacer_obeys_the_strictest_rule() -> None:
    pacer = CombinedPacer([IntervalPacer(1.0), SlidingWindowLimiter(2)])
    starts = [pacer.reserve(0.0) for _ in range(5)]
    assert starts == [0.0, 1.0, 60.0, 61.0, 120.0]


def test_combine_pacers_skips_missing_ones() -> None:
    interval = IntervalPacer(1.0)
    assert combine_pacers(None, None) is None
    assert combine_pacers(None, interval) is interval
    assert isinstance(combine_pacers(interval, SlidingWindowLimiter(3)), CombinedPacer)
