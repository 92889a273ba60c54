"""The library's side of each persistent-tier benchmark, whatever the backend.

Each takes a fresh ``QueueManager`` (stopped at the end) and returns the seconds
the measured part took; opening the store happens outside the timing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from noormme_queue import Job, QueueManager


async def sequential(qm: QueueManager, jobs: int) -> float:
    await qm.add_job("noop", {"i": -1})
    started = time.perf_counter()
    for i in range(jobs):
        await qm.add_job("noop", {"i": i})
    elapsed = time.perf_counter() - started
    await qm.stop()
    return elapsed


async def concurrent(qm: QueueManager, producers: int, each: int) -> float:
    await qm.add_job("noop", {"i": -1})

    async def producer(n: int) -> None:
        for i in range(each):
            await qm.add_job("noop", {"p": n, "i": i})

    started = time.perf_counter()
    await asyncio.gather(*(producer(n) for n in range(producers)))
    elapsed = time.perf_counter() - started
    await qm.stop()
    return elapsed


async def bulk(qm: QueueManager, jobs: int) -> float:
    await qm.add_job("noop", {"i": -1})
    specs = [("noop", {"i": i}) for i in range(jobs)]
    started = time.perf_counter()
    await qm.add_jobs(specs)
    elapsed = time.perf_counter() - started
    await qm.stop()
    return elapsed


async def drain(qm: QueueManager, jobs: int, **limits: Any) -> float:
    """Start a worker on ``jobs`` pending no-op jobs; time until every outcome is saved
    (jobs completed before it started are not counted). ``limits``: ``register_handler``'s
    (``concurrency_limit=``, ``rate_limit=``)."""
    await qm.store.open()
    before = (await qm.get_stats()).completed
    finished = asyncio.Event()
    count = 0

    async def noop(job: Job) -> None:
        nonlocal count
        count += 1
        if count == jobs:
            finished.set()

    qm.register_handler("noop", noop, **limits)
    started = time.perf_counter()
    await qm.start()
    await finished.wait()
    while (await qm.get_stats()).completed < before + jobs:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await qm.stop()
    return elapsed
