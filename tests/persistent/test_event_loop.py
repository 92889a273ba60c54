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
        for i in range(40):
            await qm.add_job("bulk", {"producer": n, "i": i})

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(producer(n) for n in range(50)))
    stop.set()
    await tick
    assert (await qm.get_stats()).pending == 2_000
    # A generous bound: the writes themselves take far longer than this in total,
    # so a loop that waited on them would show it.
    assert max(stalls) < 0.05, f"longest stall {max(stalls) * 1000:.1f} ms"
