"""RateLimitedQueue: starts go through the limiter; over the limit, jobs wait."""

from __future__ import annotations

import asyncio

import pytest

from noormme_queue.core.errors import ConfigError, JobDropped
from noormme_queue.memory import RateLimitedQueue

from .conftest import Probe, wait_until


async def test_jobs_over_the_limit_wait_on_a_pinned_clock_and_are_not_dropped() -> None:
    now = [1_000.0]  # the clock never moves: the 4th start is a minute away
    probe = Probe()
    queue: RateLimitedQueue[int, object] = RateLimitedQueue(
        "api", 3, concurrency=5, interval=0, timeout=None, processor=probe,
        monotonic=lambda: now[0],
    )  # fmt: skip
    futures = [queue.add_nowait(i) for i in range(4)]
    await asyncio.gather(*futures[:3])
    await wait_until(lambda: queue.stats().queued == 1, "the 4th job to wait for the window")
    assert probe.started == [0, 1, 2]
    assert queue.stats().running == 0  # workers are free; the limit holds the job
    assert await queue.stop(0) == 1
    with pytest.raises(JobDropped):
        await futures[3]


async def test_a_small_burst_spaces_starts_at_the_steady_rate() -> None:
    probe = Probe()
    # 1200 a minute = one every 50 ms once the burst of 2 is spent.
    queue: RateLimitedQueue[int, object] = RateLimitedQueue(
        "api", 1200, burst=2, concurrency=4, interval=0, timeout=None, processor=probe
    )
    await asyncio.gather(*(queue.add(i) for i in range(5)))
    times = probe.start_times
    # Two may start at once, then one every 50 ms: the fifth start comes no sooner than
    # three spacings after the first. (Only a lower bound: a busy machine makes starts later,
    # never earlier; the exact schedule is checked with a pinned clock in test_pacing.py.)
    assert times[-1] - times[0] >= 3 * 0.05 - 0.005
    assert queue.stats().completed == 5
    await queue.stop(1)


async def test_a_caller_leaving_while_rate_limited_is_not_a_zombie() -> None:
    now = [0.0]
    probe = Probe()
    queue: RateLimitedQueue[str, object] = RateLimitedQueue(
        "api", 1, concurrency=1, interval=0, timeout=None, processor=probe,
        monotonic=lambda: now[0],
    )  # fmt: skip
    await queue.add("first")
    caller = asyncio.create_task(queue.add("second"))
    await wait_until(lambda: queue.stats().queued == 1, "the second job to wait")
    caller.cancel()
    await wait_until(lambda: queue.stats().queued == 0, "the waiting job to be let go")
    assert queue.stats().cancelled == 1
    assert await queue.stop(0) == 0


def test_limits_and_burst_are_validated_and_reported() -> None:
    queue: RateLimitedQueue[int, int] = RateLimitedQueue("api", 100)
    assert (queue.per_minute, queue.burst, queue.kind) == (100, 100, "rate_limited")
    assert RateLimitedQueue("api", 100, burst=10).burst == 10
    with pytest.raises(ConfigError, match="per_minute"):
        RateLimitedQueue("api", 0)
    with pytest.raises(ConfigError, match="burst"):
        RateLimitedQueue("api", 10, burst=11)
