"""Run-time figures of finished jobs: mean and percentile durations, throughput.

Pure bookkeeping with times passed in (monotonic seconds), cheap enough to
call once per job on a hot path: one append and a few additions.

- the mean covers every run recorded;
- percentiles cover the most recent ``sample_size`` runs;
- throughput is jobs finished per second over the last ``rate_window``
  seconds (whole-second buckets), or since the first run started if that is
  more recent.
"""

from __future__ import annotations

import math
from collections import deque

DEFAULT_SAMPLE_SIZE = 1024
DEFAULT_RATE_WINDOW = 10


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(q / 100.0 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


class RunMetrics:
    __slots__ = (
        "_bucket_count",
        "_bucket_second",
        "_buckets",
        "_first_started",
        "_rate_window",
        "_recent",
        "_runs",
        "_total_duration",
    )

    def __init__(
        self, *, sample_size: int = DEFAULT_SAMPLE_SIZE, rate_window: int = DEFAULT_RATE_WINDOW
    ) -> None:
        self._recent: deque[float] = deque(maxlen=sample_size)
        self._runs = 0
        self._total_duration = 0.0
        self._first_started: float | None = None
        self._rate_window = rate_window
        # Finished-job counts per whole second: closed buckets plus the open one.
        self._buckets: deque[tuple[int, int]] = deque(maxlen=rate_window + 1)
        self._bucket_second = -1
        self._bucket_count = 0

    @property
    def runs(self) -> int:
        return self._runs

    def record(self, started: float, finished: float, count: int = 1) -> None:
        """One run from ``started`` to ``finished`` that finished ``count`` jobs."""
        duration = finished - started
        self._runs += 1
        self._total_duration += duration
        self._recent.append(duration)
        if self._first_started is None:
            self._first_started = started
        second = int(finished)
        if second != self._bucket_second:
            if self._bucket_count:
                self._buckets.append((self._bucket_second, self._bucket_count))
            self._bucket_second = second
            self._bucket_count = 0
        self._bucket_count += count

    def mean(self) -> float | None:
        return self._total_duration / self._runs if self._runs else None

    def percentile(self, q: float) -> float | None:
        return percentile(list(self._recent), q)

    def throughput(self, now: float) -> float:
        """Jobs finished per second over the recent window ending at ``now``."""
        if self._first_started is None:
            return 0.0
        # A bucket [s, s + 1) counts if it overlaps the window (now - rate_window, now].
        oldest = now - self._rate_window - 1
        finished = self._bucket_count if self._bucket_second > oldest else 0
        finished += sum(count for second, count in self._buckets if second > oldest)
        span = min(float(self._rate_window), now - self._first_started)
        return finished / span if span > 0 else 0.0
