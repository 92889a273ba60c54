"""The event loop never waits on disk: enqueue from many coroutines leaves it responsive.

A write lock held by another connection makes every write wait; the loop must go on
ticking all the while (a store that waited for the lock, or for the disk, on the loop
would stop the ticker). No wall-clock bound on a stall: on a loaded machine the process
itself waits for a CPU, and a test must not fail for that.
"""

from __future__ import annotations

import asyncio
import sqlite3

from noormme_queue import QueueManager

from ..waiting import wait_until


async def test_fifty_concurrent_producers_never_stall_the_loop(qm: QueueManager) -> None:
    await qm.start()
    await qm.add_job("bulk", {"warm": True})  # the schema exists
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    async def producer(n: int) -> None:
        for i in range(100):
            await qm.add_job("bulk", {"producer": n, "i": i})

    other = sqlite3.connect(qm.config.database_url.removeprefix("sqlite:///"), timeout=30)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # every write of the queue must now wait
    tick = asyncio.create_task(ticker())
    producers = asyncio.gather(*(producer(n) for n in range(50)))
    try:
        start = ticks
        await wait_until(lambda: ticks >= start + 50, what="the loop to tick while writes wait")
        assert not producers.done()  # the 50 producers are all held by the lock ...
        assert other.execute("SELECT count(*) FROM noormme_jobs").fetchone() == (1,)
    finally:
        other.execute("COMMIT")  # ... and go on once it is released
        other.close()
    await producers
    stop.set()
    await tick
    assert (await qm.get_stats()).pending == 5_001
