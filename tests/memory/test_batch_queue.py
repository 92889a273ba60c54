"""BatchQueue: flush by size, by time and on stop; per-item results; failing batches."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from noormme_queue.core.errors import ConfigError, JobDropped, NoProcessor, QueueError
from noormme_queue.memory import BatchQueue

from .conftest import settle_loop, wait_until


class BatchProbe:
    """Records each batch; returns one result per item unless told otherwise."""

    def __init__(self, *, hold: bool = False) -> None:
        self.batches: list[list[Any]] = []
        self.flushed_at: list[float] = []
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, items: list[Any]) -> Any:
        self.batches.append(list(items))
        self.flushed_at.append(time.monotonic())
        await self.release.wait()
        if any(isinstance(item, BaseException) for item in items):
            raise next(item for item in items if isinstance(item, BaseException))
        return [("done", item) for item in items]


def make_batch(
    processor: Any, size: int = 3, max_wait: float = 30.0, **kw: Any
) -> BatchQueue[Any, Any]:
    kw.setdefault("interval", 0)
    kw.setdefault("timeout", None)
    kw.setdefault("concurrency", 1)
    return BatchQueue("batches", size, max_wait, processor=processor, **kw)


async def test_a_full_batch_flushes_at_once_and_each_item_gets_its_result() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=3)
    results = await asyncio.gather(*(queue.add(i) for i in range(3)))
    assert probe.batches == [[0, 1, 2]]
    assert results == [("done", 0), ("done", 1), ("done", 2)]
    await queue.stop(1)


async def test_a_partial_batch_flushes_max_wait_after_its_first_item() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=100, max_wait=0.05)
    first_added = time.monotonic()
    results = await asyncio.gather(queue.add("a"), queue.add("b"))
    assert probe.batches == [["a", "b"]]
    assert probe.flushed_at[0] - first_added >= 0.05 - 0.002
    assert list(results) == [("done", "a"), ("done", "b")]
    await queue.stop(1)


async def test_items_beyond_a_batch_start_the_next_one() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=2, max_wait=0.02)
    await asyncio.gather(*(queue.add(i) for i in range(5)))
    assert probe.batches == [[0, 1], [2, 3], [4]]
    await queue.stop(1)


async def test_a_value_that_is_not_a_list_goes_to_every_item() -> None:
    async def count(items: list[int]) -> int:
        return len(items)

    queue = make_batch(count, size=2)
    assert list(await asyncio.gather(queue.add("x"), queue.add("y"))) == [2, 2]

    async def nothing(items: list[int]) -> None:
        return None

    queue.set_processor(nothing)
    assert list(await asyncio.gather(queue.add("x"), queue.add("y"))) == [None, None]
    await queue.stop(1)


async def test_a_list_of_the_wrong_length_fails_every_item_clearly() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:1]

    queue = make_batch(short, size=2)
    outcomes = await asyncio.gather(queue.add(1), queue.add(2), return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, QueueError)
        assert "returned 1 results for 2 items" in str(outcome)
    await queue.stop(1)


async def test_a_failing_batch_fails_its_items_and_never_blocks_the_next() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=2)
    boom = ValueError("bad batch")
    failed = await asyncio.gather(queue.add(boom), queue.add("b"), return_exceptions=True)
    assert list(failed) == [boom, boom]
    both = await asyncio.gather(queue.add("c"), queue.add("d"))
    assert list(both) == [("done", "c"), ("done", "d")]
    stats = queue.stats()
    assert (stats.failed, stats.completed) == (2, 2)
    await queue.stop(1)


async def test_stop_flushes_the_gathering_batch() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=100, max_wait=60.0)
    futures = [queue.add_nowait(i) for i in range(3)]
    async with asyncio.timeout(5):  # not the 60 s max_wait
        assert await queue.stop(5) == 0
    assert probe.batches == [[0, 1, 2]]
    assert [f.result() for f in futures] == [("done", i) for i in range(3)]


async def test_stop_counts_the_items_it_drops() -> None:
    probe = BatchProbe(hold=True)
    queue = make_batch(probe, size=2, max_wait=60.0)
    running = [queue.add_nowait(i) for i in range(2)]
    await wait_until(lambda: len(probe.batches) == 1, "the first batch to start")
    gathering = queue.add_nowait("late")
    assert await queue.stop(0.02) == 3
    for future in [*running, gathering]:
        with pytest.raises(JobDropped):
            await future


async def test_an_item_cancelled_before_its_flush_is_left_out() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=3, max_wait=60.0)
    kept = queue.add_nowait("kept")
    gone = asyncio.create_task(queue.add("gone"))
    await settle_loop()
    gone.cancel()
    await settle_loop()
    assert queue.stats().queued == 1
    others = [queue.add_nowait("x"), queue.add_nowait("y")]
    await asyncio.gather(kept, *others)
    assert probe.batches == [["kept", "x", "y"]]
    await queue.stop(1)


async def test_clear_drops_gathering_and_waiting_items() -> None:
    probe = BatchProbe(hold=True)
    queue = make_batch(probe, size=2, max_wait=60.0)
    running = [queue.add_nowait(i) for i in range(2)]
    await wait_until(lambda: len(probe.batches) == 1, "the first batch to start")
    waiting = [queue.add_nowait(i) for i in range(2, 4)]  # a full batch, queued
    gathering = queue.add_nowait(4)
    assert queue.stats().queued == 3
    assert queue.clear() == 3
    for future in [*waiting, gathering]:
        with pytest.raises(JobDropped):
            await future
    probe.release.set()
    assert await asyncio.gather(*running) == [("done", 0), ("done", 1)]
    assert queue.stats().dropped == 3
    await queue.stop(1)


async def test_on_idle_waits_for_the_time_flush() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=10, max_wait=0.03)
    future = queue.add_nowait("only")
    await asyncio.wait_for(queue.on_idle(), 5)
    assert future.result() == ("done", "only")
    await queue.stop(1)


async def test_a_sync_batch_processor_runs_in_a_thread() -> None:
    threads: list[int] = []

    def total(items: list[int]) -> list[int]:
        threads.append(threading.get_ident())
        return [item * 10 for item in items]

    queue = make_batch(total, size=2)
    assert list(await asyncio.gather(queue.add(1), queue.add(2))) == [10, 20]
    assert threads[0] != threading.get_ident()
    await queue.stop(1)


async def test_batch_stats_count_items() -> None:
    probe = BatchProbe()
    queue = make_batch(probe, size=2, max_wait=60.0)
    await asyncio.gather(*(queue.add(i) for i in range(4)))
    queue.add_nowait("gathering")
    stats = queue.stats()
    assert (stats.kind, stats.completed, stats.queued) == ("batch", 4, 1)
    await queue.stop(1)


async def test_no_processor_and_bad_settings() -> None:
    queue: BatchQueue[int, int] = BatchQueue("batches", 2, 1.0)
    with pytest.raises(NoProcessor, match="'batches' has no processor"):
        await queue.add(1)
    with pytest.raises(ConfigError, match="size"):
        BatchQueue("b", 0, 1.0)
    with pytest.raises(ConfigError, match="max_wait"):
        BatchQueue("b", 2, -1.0)


def test_a_batch_queue_outlives_its_event_loop() -> None:
    queue = make_batch(BatchProbe(), size=2, max_wait=0.01)

    async def use(payload: int) -> Any:
        return await queue.add(payload)

    assert asyncio.run(use(1)) == ("done", 1)
    assert asyncio.run(use(2)) == ("done", 2)
