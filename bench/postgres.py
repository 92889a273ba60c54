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
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.core.ids import new_job_id

from . import library_runs
from . import peers as peers_mod
from .fresh import DEFAULT_URL, empty_schema, fresh_schema
from .measure import percentile

INSERT = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    " created_at) VALUES (%s, 'noop', %s, 'pending', 0, 3, %s, %s)"
)


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


# -- the peers ---------------------------------------------------------------------------------


def versus(name: str, ours: float, theirs: dict[str, float], unit: str, higher: bool) -> None:
    """One figure: ours, each peer's, and ours/theirs (for a time, theirs/ours: > 1 is ours
    ahead either way)."""
    cells = "".join(
        f"  {peer} {value:>9,.{0 if value >= 100 else 2}f}"
        f" ({(ours / value if higher else value / ours):4.2f}x)"
        for peer, value in theirs.items()
    )
    print(f"{name:<34} ours {ours:>9,.{0 if ours >= 100 else 2}f} {unit:<6}{cells}", flush=True)


Run = Callable[[peers_mod.PgPeer], Coroutine[Any, Any, float]]


def each(base: str, runs: dict[type[peers_mod.PgPeer], Run]) -> dict[str, float]:
    """Each library's run in a fresh schema of its own, in turn; the results by name."""
    results: dict[str, float] = {}
    for peer, run in runs.items():
        with empty_schema(base) as schema:
            results[peer.name] = asyncio.run(run(peer(base, schema)))
    return results


def bench_peers(base: str, scale: int) -> None:
    """Ours beside pgqueuer and procrastinate, figure by figure: every library does the same
    work in the same run, ours first, each in a fresh schema."""
    from .peers import LIBRARIES, PG_PEERS, Ours, worker_rss_mb

    print("\nPostgreSQL peers, same run (ours / theirs; > 1: ours ahead):")
    for lib in LIBRARIES:
        print(f"  {lib.name}: {lib.defaults}")
    jobs, bulked, drained, samples = 2_000 // scale, 20_000 // scale, 5_000 // scale, 300 // scale

    def same(run: Run) -> dict[type[peers_mod.PgPeer], Run]:
        return dict.fromkeys(LIBRARIES, run)

    def rates(label: str, n: int, runs: dict[type[peers_mod.PgPeer], Run]) -> None:
        figure = {name: n / seconds for name, seconds in each(base, runs).items()}
        versus(label, figure.pop(Ours.name), figure, "jobs/s", True)

    rates("enqueue, one by one", jobs, same(lambda p: peers_mod.one_by_one(p, jobs)))
    rates("enqueue, 50 producers", jobs, same(lambda p: peers_mod.producers(p, 50, jobs // 50)))
    rates("enqueue, bulk", bulked, same(lambda p: peers_mod.bulk(p, bulked)))

    def drain_at(concurrency: int | None) -> Run:
        return lambda p: peers_mod.drain(p, drained, concurrency)

    for lib in PG_PEERS:  # at the peer's defaults, ours running as many at once
        c = lib.default_concurrency
        rates(
            f"drain, {lib.name}'s defaults ({c})", drained, {Ours: drain_at(c), lib: drain_at(None)}
        )
    for c in (Ours.default_concurrency, 50):
        rates(f"drain, concurrency {c}", drained, same(drain_at(c)))
    latencies: dict[str, list[float]] = {}
    for lib in LIBRARIES:
        with empty_schema(base) as schema:
            run = peers_mod.idle_latencies(lib(base, schema), lib(base, schema), samples)
            latencies[lib.name] = asyncio.run(run)
    for label, q in (("p50", 50), ("p99", 99)):
        ms = {name: percentile(values, q) for name, values in latencies.items()}
        versus(f"idle latency {label} (ms)", ms.pop(Ours.name), ms, "ms", False)
    rss = {}
    for lib in LIBRARIES:
        with empty_schema(base) as schema:
            asyncio.run(peers_mod.fill(lib(base, schema), drained))
            rss[lib.name] = worker_rss_mb(lib.name, base, schema, drained)
    versus(f"worker peak RSS, {drained:,} jobs (MB)", rss.pop(Ours.name), rss, "MB", False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL, help="server to use (a schema is created)")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--peers", action="store_true", help="only the peers' comparison")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    with psycopg.connect(args.url) as conn:
        version = conn.info.server_version
    print(
        f"noormme-queue on PostgreSQL {version // 10000}.{version % 10000}; psycopg "
        f"{psycopg.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cores\n"
    )
    if args.peers:
        bench_peers(args.url, scale)
        return
    bench_sequential(args.url, 2_000 // scale)
    bench_concurrent(args.url, 50, 200 // scale)
    bench_bulk(args.url, 20_000 // scale)
    bench_drain(args.url, 20_000 // scale, 5)
    bench_drain(args.url, 20_000 // scale, 50)
    bench_notify_latency(args.url, 300 // scale)
    bench_peers(args.url, scale)


if __name__ == "__main__":
    main()
