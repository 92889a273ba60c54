"""The event loop never waits on disk: enqueue from many coroutines leaves it responsive."""

from __future__ import annotations

import asyncio
import time

from noormme_queue import QueueManager


async def test_fifty_concurrent_producers_never_stall_the_loop(qm: QueueManager) -> None:
    await qm.start()
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        # How late does a 1 ms timer fire? That is how long the loop was held.
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - before - 0.001)

    async def producer(n: int) -> None:
        for i in range(100):
            await qm.add_job("bulk", {"producer": n, "i": i})

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(producer(n) for n in range(50)))
    stop.set()
    await tick
    assert (await qm.get_stats()).pending == 5_000
    # A generous bound (measured: about 1 ms): the 5,000 writes take longer than it
    # in total, so a loop that waited on them, or on the disk, would show it.
    assert max(stalls) < 0.1, f"longest stall {max(stalls) * 1000:.1f} ms"
