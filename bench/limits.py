"""Limits that never bind: the same drain with and without limits, in one run.

    .venv/bin/python -m bench.limits [--backends sqlite,postgres] [--jobs N] [--repeat N]

One worker (concurrency 50) drains 10,000 no-op jobs spread over 100 ``limit_key``s, four
ways: without limits; with ``concurrency_limit=10`` (per key: never reached, the keys
interleave and 50 run at once at most); with ``rate_limit="1000000/minute"`` (per key, far
above the drain's rate); and the same rate limit for the type as a whole (the same jobs
without their keys). Every drain gets a fresh database or schema; the ways take turns,
each repetition starting with the next, and each figure is the median. Beside the
rate, this process's CPU per job (every thread; the enqueue that fills the queue included;
for PostgreSQL the client's side only), steadier than the rate on a loaded machine. See
docs/benchmarks.md ("Limits that never bind").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from noormme_queue import QueueConfig, QueueManager

from . import library_runs
from .fresh import DEFAULT_URL, fresh_db, fresh_schema

KEYS = 100
CONCURRENCY = 50
WAYS: dict[str, dict[str, Any]] = {
    "no limits": {},
    "concurrency_limit=10 per key": {"concurrency_limit": 10},
    'rate_limit="1000000/minute" per key': {"rate_limit": "1000000/minute"},
    'rate_limit="1000000/minute" per type': {"rate_limit": "1000000/minute", "keys": False},
}


@contextmanager
def fresh_url(backend: str, server: str) -> Iterator[str]:
    """A fresh database URL on ``backend`` (a schema on ``server`` for PostgreSQL)."""
    if backend == "postgres":
        with fresh_schema(server) as url:
            yield url
    else:
        with fresh_db() as path:
            yield f"sqlite:///{path}"


async def one_drain(url: str, jobs: int, way: dict[str, Any]) -> float:
    """Seconds for one worker to drain ``jobs`` jobs over ``KEYS`` keys (unless the way
    says ``keys=False``) with the way's limits."""
    limits = {name: value for name, value in way.items() if name != "keys"}
    keyed = way.get("keys", True)
    producer = QueueManager(QueueConfig(database_url=url, cleanup_interval=0), builtins=False)
    await producer.add_jobs(
        [("noop", {"i": i}, {"limit_key": f"k{i % KEYS}"} if keyed else {}) for i in range(jobs)]
    )
    await producer.stop()
    config = QueueConfig(
        database_url=url, cleanup_interval=0, concurrency=CONCURRENCY, batch_size=CONCURRENCY
    )
    return await library_runs.drain(QueueManager(config, builtins=False), jobs, **limits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (a schema each)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"limits that never bind: {args.jobs:,} no-op jobs over {KEYS} keys, one worker, "
        f"concurrency {CONCURRENCY}, median of {args.repeat}; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores\n"
    )
    names = list(WAYS)
    for backend in args.backends.split(","):
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(args.repeat):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                with fresh_url(backend, args.url) as url:
                    started = time.process_time()
                    seconds = asyncio.run(one_drain(url, args.jobs, WAYS[name]))
                    cpu[name].append((time.process_time() - started) / args.jobs * 1e6)
                    rates[name].append(args.jobs / seconds)
        base = statistics.median(rates["no limits"])
        for name in names:
            median = statistics.median(rates[name])
            runs = " ".join(f"{r:,.0f}" for r in rates[name])
            print(
                f"{backend:<8} {name:<36} {median:>9,.0f} jobs/s  {median / base:4.2f}x"
                f"  (runs: {runs})  cpu {statistics.median(cpu[name]):4.0f} us/job",
                flush=True,
            )


if __name__ == "__main__":
    main()
