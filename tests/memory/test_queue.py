"""InMemoryQueue on a real event loop: results, errors, concurrency, pacing, timeouts,
cancellation, backpressure, control, stats and stop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from noormme_queue.core.errors import (
    ConfigError,
    JobDropped,
    JobTimeout,
    NoProcessor,
    QueueError,
    QueueFull,
)
from noormme_queue.memory import InMemoryQueue

from .conftest import Probe, settle_loop, wait_until


def make_queue(probe: Any = None, **options: Any) -> InMemoryQueue[Any, Any]:
    options.setdefault("concurrency", 1)
    options.setdefault("interval", 0)
    options.setdefault("timeout", None)
    return InMemoryQueue("q", processor=probe, **options)


# -- results and errors -----------------------------------------------------------------------


async def test_add_resolves_with_the_processor_result() -> None:
    queue = make_queue(Probe())
    assert await queue.add(21) == ("done", 21)
    await queue.stop(1)


async def test_an_error_reaches_its_caller_and_no_other_job() -> None:
    queue = make_queue(Probe(), concurrency=2)
    boom = ValueError("boom")
    outcomes = await asyncio.gather(
        queue.add(1), queue.add(boom), queue.add(3), return_exceptions=True
    )
    assert list(outcomes) == [("done", 1), boom, ("done", 3)]
    stats = queue.stats()
    assert (stats.completed, stats.failed) == (2, 1)
    await queue.stop(1)


async def test_a_sync_processor_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    def work(payload: int) -> int:
        seen.append(threading.get_ident())
        return payload + 1

    queue = make_queue(work)
    assert await queue.add(1) == 2
    assert seen and seen[0] != threading.get_ident()
    await queue.stop(1)


async def test_set_processor_replaces_the_processor() -> None:
    queue: InMemoryQueue[int, int] = make_queue()

    async def double(payload: int) -> int:
        return payload * 2

    queue.set_processor(double)
    assert queue.has_processor
    assert await queue.add(4) == 8
    queue.set_processor(lambda payload: payload - 1)
    assert await queue.add(4) == 3
    await queue.stop(1)


async def test_add_without_a_processor_says_how_to_set_one() -> None:
    queue = make_queue()
    with pytest.raises(NoProcessor, match=r"'q' has no processor.*set_processor"):
        await queue.add(1)
    with pytest.raises(NoProcessor):
        queue.add_nowait(1)
    with pytest.raises(NoProcessor):
        queue.add_threadsafe(1)


async def test_a_processor_raising_cancelled_error_itself_fails_only_its_job() -> None:
    async def odd(payload: int) -> int:
        if payload == 1:
            raise asyncio.CancelledError
        return payload

    queue = make_queue(odd)
    with pytest.raises(QueueError, match="CancelledError without being cancelled"):
        await queue.add(1)
    assert await queue.add(2) == 2  # the worker survived
    await queue.stop(1)


# -- concurrency and pacing ---------------------------------------------------------------


async def test_concurrency_bounds_the_jobs_running_at_once() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, concurrency=2)
    futures = [queue.add_nowait(i) for i in range(5)]
    await probe.wait_started(2)
    await settle_loop()
    stats = queue.stats()
    assert (stats.running, stats.queued, len(probe.started)) == (2, 3, 2)
    probe.release.set()
    await asyncio.gather(*futures)
    assert probe.most_active == 2
    assert probe.started == [0, 1, 2, 3, 4]  # first in, first out
    await queue.stop(1)


async def test_interval_spaces_job_starts_across_all_workers() -> None:
    interval = 0.04
    probe = Probe()
    queue = make_queue(probe, concurrency=3, interval=interval)
    await asyncio.gather(*(queue.add(i) for i in range(5)))
    times = probe.start_times
    # Five starts, three workers: without pacing they would start together; paced, the last
    # comes at least four intervals after the first. (A lower bound only: times are taken
    # inside the processor, a scheduling hair after the queue's start, and a busy machine
    # only makes them later.)
    assert times[-1] - times[0] >= 4 * interval - 0.005
    assert times == sorted(times)
    await queue.stop(1)


async def test_a_paced_job_waits_even_with_idle_workers_and_unpaced_does_not() -> None:
    paced = make_queue(Probe(), concurrency=2, interval=30.0)
    first = paced.add_nowait("first")
    second = paced.add_nowait("second")
    await first
    await wait_until(lambda: paced.stats().queued == 1, "the second job to wait its turn")
    assert paced.stats().running == 0  # a worker is free; pacing holds the job
    assert await paced.stop(0) == 1
    with pytest.raises(JobDropped):
        await second

    probe = Probe(hold=True)
    unpaced = make_queue(probe, concurrency=2, interval=0)
    futures = [unpaced.add_nowait(i) for i in range(2)]
    await probe.wait_started(2)  # both start without waiting for anything
    probe.release.set()
    await asyncio.gather(*futures)
    await unpaced.stop(1)


# -- timeouts -------------------------------------------------------------------------------


async def test_timeout_cancels_the_job_and_raises_job_timeout() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, timeout=0.05)
    with pytest.raises(JobTimeout, match=r"in-memory queue 'q' ran longer than its 0.05 s"):
        await queue.add("slow")
    assert probe.cancelled == ["slow"]
    assert queue.stats().timed_out == 1
    probe.release.set()
    assert await queue.add("next") == ("done", "next")  # the worker is free again
    await queue.stop(1)


async def test_each_job_gets_its_own_full_timeout() -> None:
    gate = asyncio.Event()
    started: dict[str, float] = {}

    async def work(payload: str) -> str:
        started[payload] = time.monotonic()
        if payload == "slow":
            await gate.wait()
        else:
            await asyncio.sleep(0.1)  # most of the first job's allowance, used up
        return payload

    queue = make_queue(work, timeout=0.15)
    assert await queue.add("quick") == "quick"
    with pytest.raises(JobTimeout):
        await queue.add("slow")
    assert time.monotonic() - started["slow"] >= 0.15
    await queue.stop(1)


async def test_timeout_releases_the_caller_of_a_blocked_sync_processor() -> None:
    unblock = threading.Event()

    def stuck(payload: int) -> int:
        unblock.wait(10)
        return payload

    queue = make_queue(stuck, timeout=0.05)
    try:
        with pytest.raises(JobTimeout):
            await queue.add(1)
    finally:
        unblock.set()
    await queue.stop(1)


async def test_a_timeout_error_raised_by_the_processor_is_a_failure() -> None:
    async def upstream(payload: int) -> int:
        raise TimeoutError("upstream")

    queue = make_queue(upstream, timeout=5.0)
    with pytest.raises(TimeoutError, match="upstream") as info:
        await queue.add(1)
    assert not isinstance(info.value, JobTimeout)
    assert (queue.stats().failed, queue.stats().timed_out) == (1, 0)
    await queue.stop(1)


def test_zero_or_none_timeout_means_no_timeout() -> None:
    assert make_queue(timeout=0).timeout is None
    assert make_queue(timeout=None).timeout is None
    assert make_queue(timeout=2).timeout == 2.0


# -- callers that give up -------------------------------------------------------------------


async def test_a_cancelled_caller_of_a_waiting_job_gives_its_place_up() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    running = asyncio.create_task(queue.add("running"))
    await probe.wait_started(1)
    waiting = asyncio.create_task(queue.add("waiting"))
    await wait_until(lambda: queue.stats().queued == 1, "the job to queue")
    waiting.cancel()
    await wait_until(lambda: queue.stats().queued == 0, "the cancelled job to leave")
    probe.release.set()
    assert await running == ("done", "running")
    assert await queue.add("after") == ("done", "after")
    assert probe.started == ["running", "after"]  # the cancelled job never ran
    assert queue.stats().cancelled == 1
    await queue.stop(1)


async def test_a_cancelled_caller_of_a_running_job_cancels_the_job() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    caller = asyncio.create_task(queue.add("abandoned"))
    await probe.wait_started(1)
    caller.cancel()
    await wait_until(lambda: probe.cancelled == ["abandoned"], "the job to be cancelled")
    probe.release.set()
    assert await queue.add("next") == ("done", "next")  # no zombie holds the only slot
    stats = queue.stats()
    assert (stats.cancelled, stats.running, stats.failed) == (1, 0, 0)
    await queue.stop(1)


async def test_cancelling_an_add_nowait_future_skips_or_cancels_the_job() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    running = queue.add_nowait("running")
    queued = queue.add_nowait("queued")
    await probe.wait_started(1)
    queued.cancel()
    running.cancel()
    await wait_until(lambda: queue.stats().cancelled == 2, "both cancellations to land")
    probe.release.set()
    assert await queue.add("next") == ("done", "next")
    assert probe.started == ["running", "next"]
    await queue.stop(1)


async def test_a_caller_leaving_a_paced_job_frees_its_worker() -> None:
    probe = Probe()
    queue = make_queue(probe, interval=30.0)
    await queue.add("first")
    caller = asyncio.create_task(queue.add("held"))
    await wait_until(lambda: queue.stats().queued == 1, "the job to wait for its slot")
    caller.cancel()
    await wait_until(lambda: queue.stats().queued == 0, "the held job to be let go")
    assert queue.stats().cancelled == 1
    assert probe.started == ["first"]
    assert await queue.stop(0) == 0


# -- backpressure ---------------------------------------------------------------------------


async def test_max_size_makes_add_wait_or_raise_queue_full() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, max_size=2)
    running = queue.add_nowait("running")
    await probe.wait_started(1)
    waiting = [queue.add_nowait("a"), queue.add_nowait("b")]  # running ones do not count
    with pytest.raises(QueueFull, match="'q' is full"):
        queue.add_nowait("c")
    with pytest.raises(QueueFull):
        await queue.add("c", wait=False)
    blocked = asyncio.create_task(queue.add("c"))
    await settle_loop()
    assert not blocked.done()
    assert queue.stats().queued == 2
    probe.release.set()
    assert await blocked == ("done", "c")
    await asyncio.gather(running, *waiting)
    await queue.stop(1)


async def test_a_cancelled_waiting_add_leaves_no_trace() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, max_size=1)
    first = queue.add_nowait(1)
    await probe.wait_started(1)
    second = queue.add_nowait(2)
    blocked = asyncio.create_task(queue.add(3))
    await settle_loop()
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    probe.release.set()
    await asyncio.gather(first, second)
    assert await queue.add(4) == ("done", 4)
    assert probe.started == [1, 2, 4]
    await queue.stop(1)


# -- pause, resume, clear, on_idle ----------------------------------------------------------


async def test_pause_holds_new_starts_until_resume() -> None:
    probe = Probe()
    queue = make_queue(probe, concurrency=2)
    queue.pause()
    futures = [queue.add_nowait(i) for i in range(3)]
    await settle_loop()
    assert probe.started == []
    stats = queue.stats()
    assert stats.paused and stats.queued == 3
    queue.resume()
    assert await asyncio.gather(*futures) == [("done", i) for i in range(3)]
    await queue.stop(1)


async def test_clear_drops_waiting_jobs_only_and_returns_the_count() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    running = queue.add_nowait("running")
    await probe.wait_started(1)
    waiting = [queue.add_nowait(i) for i in range(3)]
    assert queue.clear() == 3
    for future in waiting:
        with pytest.raises(JobDropped, match="'q' was cleared"):
            await future
    probe.release.set()
    assert await running == ("done", "running")
    assert queue.stats().dropped == 3
    await queue.stop(1)


async def test_on_idle_waits_for_queued_and_running_jobs() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, concurrency=2)
    await queue.on_idle()  # a fresh queue is idle
    futures = [queue.add_nowait(i) for i in range(4)]
    idle = asyncio.create_task(queue.on_idle())
    await probe.wait_started(2)
    assert not idle.done()
    probe.release.set()
    await asyncio.wait_for(idle, 5)
    assert all(future.done() for future in futures)
    assert queue.stats().completed == 4
    await queue.stop(1)


# -- stop -----------------------------------------------------------------------------------


async def test_stop_lets_work_finish_within_the_timeout() -> None:
    probe = Probe()
    queue = make_queue(probe, concurrency=2)
    futures = [queue.add_nowait(i) for i in range(10)]
    assert await queue.stop(5) == 0
    assert [f.result() for f in futures] == [("done", i) for i in range(10)]


async def test_stop_drops_what_is_left_at_the_timeout_and_counts_it() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, concurrency=2)
    futures = [queue.add_nowait(i) for i in range(5)]
    await probe.wait_started(2)
    assert await queue.stop(0.05) == 5  # 2 running, cancelled + 3 never started
    for future in futures:
        with pytest.raises(JobDropped):
            await future
    assert sorted(probe.cancelled) == [0, 1]
    assert queue.stats().dropped == 5


async def test_stop_drops_a_paused_queues_waiting_jobs_at_once() -> None:
    queue = make_queue(Probe())
    queue.pause()
    futures = [queue.add_nowait(i) for i in range(3)]
    async with asyncio.timeout(5):  # not the 60 s a drain would be allowed
        assert await queue.stop(60) == 3
    for future in futures:
        with pytest.raises(JobDropped, match="stopped while paused"):
            await future


async def test_adds_are_refused_while_stopping_and_welcome_after() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    running = queue.add_nowait("running")
    await probe.wait_started(1)
    stopping = asyncio.create_task(queue.stop(5))
    await settle_loop()
    with pytest.raises(JobDropped, match="is stopping"):
        queue.add_nowait("late")
    probe.release.set()
    assert await stopping == 0
    assert await running == ("done", "running")
    assert await queue.add("again") == ("done", "again")  # usable after stop
    await queue.stop(1)


def test_a_queue_outlives_its_event_loop() -> None:
    """A process-wide queue is used from one asyncio.run after another."""
    queue = make_queue(Probe(), concurrency=2)

    async def use(payload: int) -> Any:
        return await queue.add(payload)

    assert asyncio.run(use(1)) == ("done", 1)
    assert asyncio.run(use(2)) == ("done", 2)


# -- threads --------------------------------------------------------------------------------


async def test_add_threadsafe_from_another_thread() -> None:
    queue = make_queue(Probe(), concurrency=2)
    queue.attach()

    def from_thread() -> list[Any]:
        futures = [queue.add_threadsafe(i) for i in range(3)]
        return [f.result(timeout=5) for f in futures]

    assert await asyncio.to_thread(from_thread) == [("done", i) for i in range(3)]
    await queue.stop(1)


async def test_add_threadsafe_on_the_loop_thread_is_refused() -> None:
    queue = make_queue(Probe())
    queue.attach()
    with pytest.raises(RuntimeError, match=r"from its own event loop.*await queue.add"):
        queue.add_threadsafe(1)


def test_add_threadsafe_without_a_running_loop_explains() -> None:
    queue = make_queue(Probe())
    with pytest.raises(RuntimeError, match="not attached to a running event loop"):
        queue.add_threadsafe(1)


def test_add_nowait_outside_the_loop_points_to_add_threadsafe() -> None:
    queue = make_queue(Probe())
    with pytest.raises(RuntimeError, match="add_threadsafe"):
        queue.add_nowait(1)


# -- stats and options ----------------------------------------------------------------------


async def test_stats_report_counts_durations_and_throughput() -> None:
    now = [500.0]

    async def timed(payload: Any) -> Any:
        now[0] += payload  # each job "takes" its payload in seconds on this clock
        if payload == 0.2:
            raise ValueError("one failure")
        return payload

    queue = InMemoryQueue(
        "timed", concurrency=1, interval=0, timeout=None, processor=timed, monotonic=lambda: now[0]
    )
    durations = [k / 100 for k in range(1, 21)]  # 0.01 .. 0.20, sum 2.1
    outcomes = await asyncio.gather(*(queue.add(d) for d in durations), return_exceptions=True)
    assert sum(isinstance(o, ValueError) for o in outcomes) == 1
    stats = queue.stats()
    assert (stats.completed, stats.failed, stats.queued, stats.running) == (19, 1, 0, 0)
    assert stats.mean_duration == pytest.approx(0.105)
    assert stats.p95_duration == pytest.approx(0.19)
    assert stats.throughput == pytest.approx(20 / 2.1)
    as_dict = stats.to_dict()
    assert as_dict["name"] == "timed" and as_dict["kind"] == "plain"
    assert set(as_dict) >= {
        "queued", "running", "completed", "failed", "timed_out",
        "mean_duration", "p95_duration", "throughput",
    }  # fmt: skip
    with pytest.raises(AttributeError):
        stats.completed = 0  # type: ignore[misc]
    await queue.stop(1)


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"concurrency": 1.5},
        {"interval": -0.1},
        {"interval": float("nan")},
        {"timeout": -1},
        {"timeout": float("inf")},
        {"max_size": 0},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        make_queue(**options)


async def test_a_second_concurrent_stop_waits_and_counts_nothing_twice() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe)
    futures = [queue.add_nowait(i) for i in range(3)]
    await probe.wait_started(1)
    first, second = await asyncio.gather(queue.stop(0.02), queue.stop(0.02))
    assert (first, second) == (3, 0)
    assert queue.stats().dropped == 3
    for future in futures:
        with pytest.raises(JobDropped):
            await future
