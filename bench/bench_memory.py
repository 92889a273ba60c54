"""Tier 1 benchmark: no-op jobs through InMemoryQueue against a hand-written baseline.

Run from the project root:

    .venv/bin/python -m bench.bench_memory [--jobs 100000] [--rounds 5]

Both sides run in the same process and event loop, alternating, best of
``--rounds``: the baseline is an ``asyncio.Queue`` drained by 10 worker tasks,
each job carrying a future the worker resolves (what any queue that returns
results must do). Also reports per-job overhead over the baseline and the
memory held by 100,000 queued, not yet started, jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from noormme_queue.memory import InMemoryQueue

WORKERS = 10


async def noop(payload: Any) -> Any:
    return payload


async def baseline(jobs: int) -> float:
    """asyncio.Queue + 10 workers; returns seconds for ``jobs`` jobs, results awaited."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()

    async def worker() -> None:
        while True:
            payload, future = await queue.get()
            try:
                result = await noop(payload)
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    tasks = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    started = time.perf_counter()
    futures = []
    for i in range(jobs):
        future = loop.create_future()
        queue.put_nowait((i, future))
        futures.append(future)
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


def memory_queue_run(timeout: float | None) -> Callable[[int], Awaitable[float]]:
    async def run(jobs: int) -> float:
        queue: InMemoryQueue[int, int] = InMemoryQueue(
            "bench", concurrency=WORKERS, interval=0, timeout=timeout, processor=noop
        )
        started = time.perf_counter()
        futures = [queue.add_nowait(i) for i in range(jobs)]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
        await queue.stop(0)
        return elapsed

    return run


async def queued_memory(jobs: int) -> tuple[int, int]:
    """Bytes held by ``jobs`` queued jobs (paused queue) and by the baseline's queue."""
    loop = asyncio.get_running_loop()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    queue: InMemoryQueue[int, int] = InMemoryQueue(
        "bench-memory", concurrency=WORKERS, interval=0, timeout=None, processor=noop
    )
    queue.pause()
    futures = [queue.add_nowait(i) for i in range(jobs)]
    ours = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    queue.clear()
    for future in futures:
        future.exception()  # retrieved: no "never retrieved" noise
    del futures, queue
    gc.collect()
    before = tracemalloc.take_snapshot()
    plain: asyncio.Queue[tuple[int, asyncio.Future[Any]]] = asyncio.Queue()
    for i in range(jobs):
        plain.put_nowait((i, loop.create_future()))
    theirs = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    return ours, theirs


async def main(jobs: int, rounds: int) -> None:
    runs = {
        "baseline (asyncio.Queue + 10 tasks)": baseline,
        "InMemoryQueue(concurrency=10, interval=0, timeout=None)": memory_queue_run(None),
        "InMemoryQueue(concurrency=10, interval=0, timeout=30)": memory_queue_run(30.0),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):  # interleaved, so drift hits every side alike
        for name, run in runs.items():
            gc.collect()
            best[name] = min(best[name], await run(jobs))
    base = best["baseline (asyncio.Queue + 10 tasks)"]
    print(f"{jobs:,} no-op jobs, best of {rounds} rounds, results awaited")
    for name, seconds in best.items():
        per_job = seconds / jobs * 1e6
        line = f"  {name:58s} {jobs / seconds:>11,.0f} jobs/s  {per_job:6.2f} µs/job"
        if seconds is not base:
            line += (
                f"  ratio {base / seconds:4.2f}x  overhead {(seconds - base) / jobs * 1e6:+.2f} µs"
            )
        print(line)
    ours, theirs = await queued_memory(100_000)
    print("memory for 100,000 queued jobs (tracemalloc):")
    print(f"  InMemoryQueue  {ours / 1e6:6.1f} MB  ({ours / 100_000:.0f} B/job)")
    print(f"  baseline       {theirs / 1e6:6.1f} MB  ({theirs / 100_000:.0f} B/job)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.rounds))
