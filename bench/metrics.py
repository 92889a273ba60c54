"""One ``GET /metrics`` scrape over 1,000,000 jobs, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.metrics [--jobs 1000000] [--postgres URL | --no-postgres]

Writes the jobs raw (the library's schema and triggers, so the kept counts are the real
ones) over 8 queues, 4 types and every status, runs a few jobs through a worker so the
counters and histograms have series, then times the counts' read alone, ``render()`` (the
read and the text) and a whole HTTP request to uvicorn on 127.0.0.1 behind the token, sent
by another process. Target: a scrape <= 20 ms at 1,000,000 jobs. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.api.server import bind, http_server
from noormme_queue.contrib.prometheus import queue_metrics
from noormme_queue.core.ids import new_job_id

from . import raw_sqlite
from .fresh import fresh_db

QUEUES = [f"q{i}" for i in range(8)]
TYPES = [f"t{i}" for i in range(4)]
STATUSES = ["completed"] * 6 + ["failed", "cancelled", "pending", "scheduled"]
TOKEN = "bench-token"
SCRAPES = 200
INSERT_SQLITE = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    " created_at, queue) VALUES (?, ?, ?, ?, 0, 3, ?, ?, ?)"
)


def rows(jobs: int) -> Iterator[tuple[str, str, str, str, float, float, str]]:
    now = time.time()
    for i in range(jobs):
        status = STATUSES[i % len(STATUSES)]
        run_at = now + 3600 if status == "scheduled" else now
        queue = QUEUES[i % len(QUEUES)]
        yield (
            new_job_id(),
            TYPES[i % len(TYPES)],
            json.dumps({"i": i}),
            status,
            run_at,
            now,
            queue,
        )


def fill_sqlite(path: Path, jobs: int) -> None:
    conn = raw_sqlite.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT_SQLITE, rows(jobs))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a database in use long would be
    conn.close()


def fill_postgres(url: str, jobs: int) -> None:
    """The same rows, made by the server (``generate_series``), 100,000 per statement: the
    statement-level count triggers then run once per statement, as for ``add_jobs``."""
    import psycopg

    statuses = "ARRAY[" + ", ".join(f"'{s}'" for s in STATUSES) + "]"
    insert = (
        "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
        "  created_at, queue)"
        " SELECT 'job_bench_' || lpad(i::text, 10, '0'), 't' || (i %% %(types)s::int),"
        "  '{\"i\": ' || i || '}', s.status, 0, 3,"
        "  CASE WHEN s.status = 'scheduled' THEN %(now)s::float8 + 3600"
        "  ELSE %(now)s::float8 END, %(now)s::float8,"
        "  'q' || (i %% %(queues)s::int)"
        " FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i,"
        f"  LATERAL (SELECT ({statuses})[1 + i %% {len(STATUSES)}] AS status) AS s"
    )
    now = time.time()
    with psycopg.connect(url) as conn:
        for first in range(0, jobs, 100_000):
            params = {"now": now, "types": len(TYPES), "queues": len(QUEUES)}
            conn.execute(insert, params | {"first": first, "last": min(jobs, first + 100_000) - 1})
            conn.commit()
        conn.execute("ANALYZE noormme_jobs")
        conn.commit()


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    from .fresh import fresh_schema

    with fresh_schema(base) as url:
        yield url


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e3:6.2f} ms  p99 {p99 * 1e3:6.2f} ms"


async def measure(url: str, jobs: int, where: str) -> None:
    qm = QueueManager(QueueConfig(database_url=url, cleanup_interval=0, api_token=TOKEN))

    def ok(job: Job) -> str:
        return "ok"

    for type_ in TYPES:  # a few real runs: the counters and histograms get their series
        qm.register_handler(f"live-{type_}", ok, queue=QUEUES[0])
    metrics = queue_metrics(qm)
    sock = bind("127.0.0.1", 0)
    server = asyncio.create_task(_serve(qm, sock))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        while qm.loop is None:
            await asyncio.sleep(0.01)
        for type_ in TYPES:
            await qm.add_job(f"live-{type_}")
        while (await qm.get_stats()).processing or qm.worker.processed < len(TYPES):
            await asyncio.sleep(0.01)
        total = (await qm.get_stats()).total
        body = await metrics.render()
        read = []
        for _ in range(SCRAPES):
            started = time.perf_counter()
            await qm.list_queues()
            read.append(time.perf_counter() - started)
        render = []
        for _ in range(SCRAPES):
            started = time.perf_counter()
            await metrics.render()
            render.append(time.perf_counter() - started)
        http = await _scrapes(base)
        series = sum(1 for line in body.decode().splitlines() if line and line[0] != "#")
        print(
            f"{where}: {total:,} jobs, {len(QUEUES)} queues x {len(TYPES)} types, "
            f"{series} series, {len(body):,} bytes per scrape"
        )
        print(f"  the counts' read (list_queues)    {ms(read)}")
        print(f"  render() (database read + text)   {ms(render)}")
        print(f"  GET /metrics over HTTP, uvicorn   {ms(http)}   (target <= 20 ms)")
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        sock.close()


SCRAPER = """
import json, sys, time
import httpx
base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
    client.get("/metrics").raise_for_status()
    for _ in range(count):
        started = time.perf_counter()
        client.get("/metrics").raise_for_status()
        times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


async def _scrapes(base: str) -> list[float]:
    """Prometheus's side: another process scraping over loopback, one request at a time."""
    scraper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRAPER, base, TOKEN, str(SCRAPES), stdout=subprocess.PIPE
    )
    out, _ = await scraper.communicate()
    assert scraper.returncode == 0
    times: list[float] = json.loads(out)
    return times


async def _serve(qm: QueueManager, sock: socket.socket) -> None:
    await http_server(qm, sock, log_level="warning", access_log=False)()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with fresh_db() as path:
        started = time.perf_counter()
        fill_sqlite(path, args.jobs)
        print(f"(SQLite: {args.jobs:,} rows written in {time.perf_counter() - started:.1f} s)")
        asyncio.run(measure(f"sqlite:///{path}", args.jobs, "SQLite"))
    if not args.no_postgres:
        with postgres_schema(args.postgres) as url:
            started = time.perf_counter()
            fill_postgres(url, args.jobs)
            print(
                f"(PostgreSQL: {args.jobs:,} rows written in {time.perf_counter() - started:.1f} s)"
            )
            asyncio.run(measure(url, args.jobs, "PostgreSQL"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
