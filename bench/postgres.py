"""Tier 2 on PostgreSQL: the queue against raw psycopg doing the same work, in one run.

    .venv/bin/python -m bench.postgres [--url postgresql://...] [--quick]

Each measurement gets a fresh schema (dropped afterwards) on the server of
``--url`` (default: ``NOORMME_BENCH_POSTGRES_URL`` or the local test server).
Prints each figure beside its raw-psycopg baseline and the ratio. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.core.ids import new_job_id
from noormme_queue.store.postgres import PostgresStore

from . import library_runs

DEFAULT_URL = os.environ.get(
    "NOORMME_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

INSERT = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    " created_at) VALUES (%s, 'noop', %s, 'pending', 0, 3, %s, %s)"
)


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    """A new schema with our tables (so raw and library write the same rows); its URL."""
    schema = f"nq_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"

    async def create() -> None:
        store = PostgresStore(url)
        await store.open()
        await store.close()

    asyncio.run(create())
    try:
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


def manager(url: str, **overrides: Any) -> QueueManager:
    config = QueueConfig(database_url=url, cleanup_interval=0, **overrides)
    return QueueManager(config, builtins=False)


def row(i: int) -> tuple[str, str, float, float]:
    now = time.time()
    return (new_job_id(), json.dumps({"i": i}), now, now)


def line(name: str, ours: float, raw: float, unit: str = "jobs/s") -> None:
    print(
        f"{name:<40} {ours:>10,.0f} {unit:<7} raw {raw:>10,.0f} {unit:<7} ratio {ours / raw:5.2f}x"
    )


# -- raw psycopg baselines ---------------------------------------------------------------------


def raw_single_row_commits(url: str, jobs: int) -> float:
    """One INSERT, committed on its own (autocommit), per job: one round trip each."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        for i in range(jobs):
            conn.execute(INSERT, row(i))
        return time.perf_counter() - started


def raw_executemany(url: str, jobs: int) -> float:
    """All rows in one transaction with executemany (pipelined by psycopg 3)."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(INSERT, [row(i) for i in range(jobs)])
        conn.commit()
        return time.perf_counter() - started


def raw_claim_run_settle(url: str, batch: int) -> tuple[int, float]:
    """A minimal worker on one connection: claim a batch with SKIP LOCKED, run no-ops, mark
    them done with one UPDATE ... FROM unnest."""
    done = 0
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        while True:
            now = time.time()
            rows = conn.execute(
                "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
                " started_at = %s WHERE id IN (SELECT id FROM noormme_jobs"
                " WHERE status = 'pending' AND run_at <= %s ORDER BY priority DESC, run_at, id"
                " LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, payload",
                (now, now, batch),
            ).fetchall()
            if not rows:
                break
            ids = [r[0] for r in rows]
            results = [json.dumps(json.loads(r[1])) for r in rows]
            conn.execute(
                "UPDATE noormme_jobs j SET status = 'completed', result = v.result,"
                " finished_at = %s FROM unnest(%s::text[], %s::text[]) AS v(id, result)"
                " WHERE j.id = v.id AND j.status = 'processing'",
                (time.time(), ids, results),
            )
            done += len(rows)
        return done, time.perf_counter() - started


# -- the queue ---------------------------------------------------------------------------------


def bench_sequential(base: str, jobs: int) -> None:
    with fresh_schema(base) as url:
        raw = jobs / raw_single_row_commits(url, jobs)
    with fresh_schema(base) as url:
        ours = jobs / asyncio.run(library_runs.sequential(manager(url), jobs))
    line("enqueue, sequential awaits", ours, raw)


def bench_concurrent(base: str, producers: int, each: int) -> None:
    jobs = producers * each
    with fresh_schema(base) as url:
        raw = jobs / raw_single_row_commits(url, jobs)
    with fresh_schema(base) as url:
        ours = jobs / asyncio.run(library_runs.concurrent(manager(url), producers, each))
    line(f"enqueue, {producers} concurrent producers", ours, raw)


def bench_bulk(base: str, jobs: int) -> None:
    with fresh_schema(base) as url:
        raw = jobs / raw_executemany(url, jobs)
    with fresh_schema(base) as url:
        ours = jobs / asyncio.run(library_runs.bulk(manager(url), jobs))
    line("enqueue, add_jobs bulk", ours, raw)


def bench_drain(base: str, jobs: int, concurrency: int) -> None:
    with fresh_schema(base) as url:
        raw_executemany(url, jobs)
        done, elapsed = raw_claim_run_settle(url, concurrency)
        assert done == jobs
        raw = jobs / elapsed
    with fresh_schema(base) as url:
        raw_executemany(url, jobs)

        ours = jobs / asyncio.run(
            library_runs.drain(manager(url, concurrency=concurrency, batch_size=concurrency), jobs)
        )
    line(f"drain no-op jobs, concurrency {concurrency}", ours, raw)


def bench_notify_latency(base: str, samples: int) -> None:
    """Enqueue in one store, start in a worker on another: the wake-up is a NOTIFY."""
    with fresh_schema(base) as url:

        async def run() -> list[float]:
            worker, producer = manager(url, interval=60.0), manager(url)
            latencies: list[float] = []
            arrived = asyncio.Event()

            async def ping(job: Job) -> None:
                latencies.append((time.monotonic_ns() - job.payload["sent_ns"]) / 1e6)
                arrived.set()

            worker.register_handler("ping", ping)
            await worker.start()
            await producer.add_job("warm-up", {})
            for _ in range(samples):
                arrived.clear()
                await asyncio.sleep(0.005)  # the worker is idle when each job arrives
                await producer.add_job("ping", {"sent_ns": time.monotonic_ns()})
                await arrived.wait()
            await producer.stop()
            await worker.stop()
            return latencies

        latencies = sorted(asyncio.run(run()))
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"{'enqueue -> start via NOTIFY, idle':<40} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  "
        f"n={len(latencies)}  (worker QUEUE_INTERVAL=60 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL, help="server to use (a schema is created)")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    with psycopg.connect(args.url) as conn:
        version = conn.info.server_version
    print(
        f"noormme-queue on PostgreSQL {version // 10000}.{version % 10000}; psycopg "
        f"{psycopg.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cores\n"
    )
    bench_sequential(args.url, 2_000 // scale)
    bench_concurrent(args.url, 50, 200 // scale)
    bench_bulk(args.url, 20_000 // scale)
    bench_drain(args.url, 20_000 // scale, 5)
    bench_drain(args.url, 20_000 // scale, 50)
    bench_notify_latency(args.url, 300 // scale)


if __name__ == "__main__":
    main()
