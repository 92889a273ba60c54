"""Cleanup under load: purge 1,000,000 finished jobs while a worker drains, and time every
claim the worker makes meanwhile.

    .venv/bin/python -m bench.cleanup [--jobs 1000000] [--backends sqlite,postgres]

The table holds ``--jobs`` completed and cancelled jobs that finished ten days ago. One
``QueueManager`` runs a worker (concurrency 50) on no-op jobs that a feeder keeps topped up
(about ``BACKLOG`` due at any time), and the cleaner (``qm.cleanup()``: batches of
``PURGE_BATCH`` rows, one transaction each) deletes every finished job older than
``QUEUE_CLEANUP_DAYS`` in the same process, as the cleanup loop would. Each claim's latency
is the wall time of the worker's ``JobStore.claim`` call. Prints p50, p99 and max of the
claims during the purge (target: max <= 100 ms) beside those of the seconds before it. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from noormme_queue import Job, QueueManager
from noormme_queue.engine import cleaner
from noormme_queue.engine.cleaner import PURGE_BATCH

from . import big, fresh, postgres

TARGET_MS = 100.0
BACKLOG = 2_000
FINISHED = ("completed", "completed", "completed", "cancelled")
BEFORE_SECONDS = 3.0
FEED = 250  # jobs per add_jobs (below the 1,000 after which the PostgreSQL store runs ANALYZE)


def record_claims(qm: QueueManager) -> list[tuple[float, float]]:
    """Wrap the store's claim: (start, seconds) of every call from now on."""
    claims: list[tuple[float, float]] = []
    claim = qm.store.claim

    async def timed_claim(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await claim(*args, **kwargs)
        finally:
            claims.append((started, time.perf_counter() - started))

    qm.store.claim = timed_claim  # type: ignore[method-assign]
    return claims


async def feed(qm: QueueManager, stop: asyncio.Event) -> None:
    """Keep about BACKLOG no-op jobs due for the worker."""
    while not stop.is_set():
        if (await qm.get_stats()).pending < BACKLOG:
            await qm.add_jobs([("noop", {"i": i}) for i in range(FEED)])
        await asyncio.sleep(0.01)


def line(name: str, claims: list[float], drained: int, seconds: float) -> None:
    p50, p99, worst = big.timings_ms(claims)
    print(
        f"  {name:<22} {len(claims):>6} claims  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
        f"max {worst:7.2f} ms  drained {drained / seconds:>7,.0f} jobs/s",
        flush=True,
    )


async def run(url: str) -> None:
    qm = postgres.manager(url, concurrency=50, batch_size=50)
    done = 0

    async def noop(job: Job) -> None:
        nonlocal done
        done += 1

    qm.register_handler("noop", noop)
    claims = record_claims(qm)
    stop = asyncio.Event()
    await qm.start()
    feeder = asyncio.create_task(feed(qm, stop))
    await asyncio.sleep(BEFORE_SECONDS)  # the worker at its pace, before the purge
    before_done, started = done, time.perf_counter()
    removed = await qm.cleanup()
    ended, purge_done = time.perf_counter(), done - before_done
    stop.set()
    await feeder
    await qm.stop()
    during = [s for t, s in claims if started <= t < ended]
    before = [s for t, s in claims if started - BEFORE_SECONDS + 1.0 <= t < started]
    print(
        f"  purged {removed:,} jobs in {ended - started:.1f} s "
        f"({removed / (ended - started):,.0f}/s, {cleaner.PURGE_BATCH} per transaction)"
    )
    line("before the purge", before, before_done, BEFORE_SECONDS)
    line("during the purge", during, purge_done, ended - started)
    verdict = "ok" if max(during) * 1000 <= TARGET_MS else "OVER"
    print(f"  longest claim during the purge: {max(during) * 1000:.1f} ms [{verdict}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=fresh.DEFAULT_URL, help="PostgreSQL server")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--backends", default=",".join(big.BACKENDS))
    parser.add_argument("--quick", action="store_true", help="100,000 finished jobs")
    parser.add_argument("--batch", type=int, default=PURGE_BATCH, help="rows per purge batch")
    args = parser.parse_args()
    cleaner.PURGE_BATCH = args.batch  # what the cleaner's run_once reads
    big.exit_on_sigterm()
    jobs = 100_000 if args.quick else args.jobs
    print(
        f"noormme-queue cleanup of {jobs:,} finished jobs under a draining worker; python "
        f"{sys.version.split()[0]} (target: no claim over {TARGET_MS:.0f} ms)"
    )
    for backend in args.backends.split(","):
        with big.fresh(backend, args.url) as url:
            big.add_finished(url, jobs, FINISHED, time.time() - 10 * big.DAY)
            print(f"\n{backend}:", flush=True)
            asyncio.run(run(url))


if __name__ == "__main__":
    main()
