"""force_stop(): a stop under way ends its grace period at once, with real blocking processors.

Each stop is given 30 s to drain; the force must make it return within ``DEADLINE`` (a
correctness bound: without the force the stop would wait the full 30 s, not a benchmark).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from noormme_queue.core.config import QueueConfig
from noormme_queue.core.errors import JobDropped
from noormme_queue.memory import InMemoryQueue, MemoryQueues

from .conftest import DEADLINE, Probe, settle_loop, wait_until

GRACE = 30.0


class BlockingSync:
    """A sync processor blocking its pool thread on a threading.Event until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started: list[Any] = []
        self.returned: list[Any] = []

    def __call__(self, payload: Any) -> Any:
        with self.lock:
            self.started.append(payload)
        if not self.release.wait(timeout=60):
            raise RuntimeError("never released")
        with self.lock:
            self.returned.append(payload)
        return payload


def make_queue(processor: Any, concurrency: int) -> InMemoryQueue[Any, Any]:
    return InMemoryQueue(
        "q", concurrency=concurrency, interval=0, timeout=None, processor=processor
    )


async def begin_stop(stop: Any) -> asyncio.Task[int]:
    """Start ``stop`` as a task and let it reach its grace period (ready callbacks run in
    order, so a few loop turns are enough; nothing here waits on time)."""
    task = asyncio.create_task(stop)
    await settle_loop()
    assert not task.done(), "the stop should still be waiting for its grace period"
    return task


async def assert_dropped(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        with pytest.raises(JobDropped):
            await future


async def test_force_stop_ends_the_grace_with_an_async_processor_blocked() -> None:
    probe = Probe(hold=True)  # awaits an asyncio.Event that is never set
    queue = make_queue(probe, concurrency=2)
    futures = [queue.add_nowait(i) for i in range(5)]
    await probe.wait_started(2)
    stopping = await begin_stop(queue.stop(timeout=GRACE))

    queue.force_stop()
    dropped = await asyncio.wait_for(stopping, DEADLINE)

    assert dropped == 5  # 2 running (cancelled) + 3 never started
    stats = queue.stats()
    assert (stats.dropped, stats.queued, stats.running, stats.completed) == (5, 0, 0, 0)
    assert sorted(probe.cancelled) == [0, 1]  # the running ones were really cancelled
    await assert_dropped(futures)
    probe.release.set()
    assert await asyncio.wait_for(queue.add("again"), DEADLINE) == ("done", "again")
    await queue.stop(1)


async def test_force_stop_stops_waiting_for_a_sync_processors_thread() -> None:
    blocking = BlockingSync()
    queue = make_queue(blocking, concurrency=2)
    futures = [queue.add_nowait(i) for i in range(4)]
    try:
        await wait_until(lambda: len(blocking.started) == 2, "two threads to block")
        stopping = await begin_stop(queue.stop(timeout=GRACE))

        queue.force_stop()
        dropped = await asyncio.wait_for(stopping, DEADLINE)

        assert dropped == 4
        assert blocking.returned == []  # the threads are still blocked: nobody waited
        assert queue.stats().running == 0  # but the workers have let go of them
        await assert_dropped(futures)
    finally:
        blocking.release.set()
    await wait_until(lambda: len(blocking.returned) == 2, "the threads to end")
    await settle_loop()
    stats = queue.stats()
    assert (stats.dropped, stats.completed) == (4, 0)  # a late result changes nothing


async def test_force_stop_does_not_wait_for_a_processor_that_ignores_its_cancel() -> None:
    gate = asyncio.Event()
    ran_by: dict[Any, asyncio.Task[Any] | None] = {}

    async def stubborn(payload: Any) -> Any:
        ran_by[payload] = asyncio.current_task()
        while True:
            try:
                await gate.wait()
                return payload
            except asyncio.CancelledError:
                continue  # swallowed: a badly behaved processor

    queue = make_queue(stubborn, concurrency=1)
    try:
        first = queue.add_nowait("first")
        await wait_until(lambda: "first" in ran_by, "the first job to start")
        stopping = await begin_stop(queue.stop(timeout=GRACE))

        queue.force_stop()
        assert await asyncio.wait_for(stopping, DEADLINE) == 1
        await assert_dropped([first])

        # The abandoned worker, once its processor returns, takes no further job.
        later = [queue.add_nowait("second"), queue.add_nowait("third")]
        await wait_until(lambda: "second" in ran_by, "the second job to start")
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(*later), DEADLINE) == ["second", "third"]
        assert ran_by["third"] is not ran_by["first"]
        assert ran_by["third"] is ran_by["second"]
        stats = queue.stats()
        assert (stats.dropped, stats.completed, stats.running) == (1, 2, 0)
        await queue.stop(1)
    finally:
        gate.set()  # never leave a task behind that ignores cancellation


async def test_force_stop_ends_the_wait_for_workers_that_ignore_their_cancel() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def stubborn(payload: Any) -> Any:
        started.set()
        while True:
            try:
                await gate.wait()
                return payload
            except asyncio.CancelledError:
                continue  # swallowed: stop(0) cancels it and would wait for ever

    queue = make_queue(stubborn, concurrency=1)
    try:
        job = queue.add_nowait("job")
        await asyncio.wait_for(started.wait(), DEADLINE)
        stopping = await begin_stop(queue.stop(timeout=0))

        queue.force_stop()
        assert await asyncio.wait_for(stopping, DEADLINE) == 1
        await assert_dropped([job])
    finally:
        gate.set()


async def test_force_stop_without_a_stop_under_way_does_nothing() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, concurrency=1)
    running = queue.add_nowait("running")
    await probe.wait_started(1)

    queue.force_stop()  # no stop under way: nothing happens now, nor to the next stop
    await settle_loop()
    assert not running.done()
    stopping = await begin_stop(queue.stop(timeout=GRACE))
    probe.release.set()
    assert await asyncio.wait_for(stopping, DEADLINE) == 0
    assert await running == ("done", "running")


async def test_force_stop_from_another_thread_reaches_the_loop() -> None:
    probe = Probe(hold=True)
    queue = make_queue(probe, concurrency=1)
    futures = [queue.add_nowait(i) for i in range(2)]
    await probe.wait_started(1)
    stopping = await begin_stop(queue.stop(timeout=GRACE))

    await asyncio.to_thread(queue.force_stop)

    assert await asyncio.wait_for(stopping, DEADLINE) == 2
    await assert_dropped(futures)


# -- MemoryQueues ---------------------------------------------------------------------------


def registry() -> MemoryQueues:
    return MemoryQueues(
        QueueConfig(in_memory_concurrency=1, in_memory_interval=0, in_memory_timeout=0)
    )


async def test_registry_force_stop_ends_every_queues_grace_and_counts_the_drops() -> None:
    probe = Probe(hold=True)
    blocking = BlockingSync()
    batches = Probe(hold=True)
    queues = registry()
    async_queue = queues.create("async", concurrency=2, processor=probe)
    sync_queue = queues.create("sync", processor=blocking)
    batch_queue = queues.create_batch("batch", 3, 60.0, processor=batches)
    futures = [async_queue.add_nowait(i) for i in range(3)]  # 2 running, 1 waiting
    futures += [sync_queue.add_nowait(i) for i in range(2)]  # 1 running, 1 waiting
    futures += [batch_queue.add_nowait(i) for i in range(4)]  # a batch of 3 running, 1 gathering
    try:
        await probe.wait_started(2)
        await batches.wait_started(1)
        await wait_until(lambda: len(blocking.started) == 1, "the sync job to block")
        stopping = await begin_stop(queues.stop(timeout=GRACE))

        queues.force_stop()
        dropped = await asyncio.wait_for(stopping, DEADLINE)

        assert dropped == 3 + 2 + 4
        await assert_dropped(futures)
        assert [queues.get(n).stats().dropped for n in ("async", "sync", "batch")] == [3, 2, 4]
    finally:
        blocking.release.set()


async def test_registry_force_stop_without_a_stop_under_way_does_nothing() -> None:
    probe = Probe(hold=True)
    queues = registry()
    queue = queues.create("async", processor=probe)
    running = queue.add_nowait("running")
    await probe.wait_started(1)

    queues.force_stop()
    stopping = await begin_stop(queues.stop(timeout=GRACE))
    probe.release.set()
    assert await asyncio.wait_for(stopping, DEADLINE) == 0
    assert await running == ("done", "running")


async def test_registry_force_before_a_queues_stop_began_gives_it_no_grace() -> None:
    probe = Probe(hold=True)
    queues = registry()
    queue = queues.create("async", processor=probe)
    futures = [queue.add_nowait(i) for i in range(2)]
    await probe.wait_started(1)

    stopping = asyncio.create_task(queues.stop(timeout=GRACE))
    await asyncio.sleep(0)  # the registry's stop has begun; the queue's own has not yet
    queues.force_stop()

    assert await asyncio.wait_for(stopping, DEADLINE) == 2
    await assert_dropped(futures)
