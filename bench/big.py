"""Big tables for the scale benchmarks (scale, monitoring, cleanup, files): a fresh database
on either backend, filled fast. Filling is setup, never measured.

Pending and scheduled jobs go through the store's own bulk insert (``JobStore.enqueue``, in
chunks), so they are exactly the rows ``add_jobs`` writes, kept counts included. Finished
jobs (which no insert of the store writes) go in with one ``executemany`` on SQLite or one
``COPY`` on PostgreSQL; the triggers keep the counts of them too.
"""

from __future__ import annotations

import signal
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg

from noormme_queue import QueueConfig
from noormme_queue.core.ids import new_job_id
from noormme_queue.store import store_from_config
from noormme_queue.store.base import NewJob
from noormme_queue.store.sqlite import sqlite_path_from_url

from . import fresh as fresh_mod
from . import measure

BACKENDS = ("sqlite", "postgres")
CHUNK = 20_000
DAY = 86_400.0

MACHINE = "2-vCPU VM shared with other helpers' work"


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a stopped benchmark still removes its databases."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextmanager
def fresh(backend: str, pg_url: str = fresh_mod.DEFAULT_URL) -> Iterator[str]:
    """A database with our schema and nothing in it: its ``QUEUE_DATABASE_URL``."""
    if backend == "sqlite":
        with fresh_mod.fresh_db() as path:
            yield f"sqlite:///{path}"
    else:
        with fresh_mod.fresh_schema(pg_url) as url:
            yield url


def sqlite_path(url: str) -> Path:
    return Path(sqlite_path_from_url(url))


def new_jobs(
    count: int,
    *,
    type: str = "noop",
    queue: str | None = None,
    priority: int = 0,
    run_at: float | None = None,
) -> list[NewJob]:
    now = time.time()
    when = now if run_at is None else run_at
    return [
        NewJob(
            id=new_job_id(),
            type=type,
            payload=f'{{"i": {i}}}',
            priority=priority,
            max_attempts=3,
            run_at=when,
            created_at=now,
            queue=queue,
        )
        for i in range(count)
    ]


async def add_pending(url: str, count: int, **shape: object) -> None:
    """``count`` jobs through the store's bulk insert (``new_jobs``' keywords)."""
    store = store_from_config(QueueConfig(database_url=url))
    await store.open()
    try:
        for start in range(0, count, CHUNK):
            await store.enqueue(new_jobs(min(CHUNK, count - start), **shape))  # type: ignore[arg-type]
    finally:
        await store.close()


_FINISHED = (
    "id",
    "type",
    "payload",
    "status",
    "max_attempts",
    "attempts",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
)


def finished_rows(count: int, statuses: Sequence[str], finished_at: float) -> Iterator[tuple]:  # type: ignore[type-arg]
    """Rows of jobs that ran once and ended, the statuses in turn, ``finished_at`` spread
    over the hour before it."""
    for i in range(count):
        done = finished_at - 3_600.0 * (count - i) / count
        yield (
            new_job_id(),
            "noop",
            f'{{"i": {i}}}',
            statuses[i % len(statuses)],
            3,
            1,
            done - 1.0,
            done - 1.0,
            done - 0.5,
            done,
        )


# The per-minute counts a worker keeps when jobs finish (the triggers count an insert in
# noormme_counts only), for the rows of add_finished.
_SQLITE_MINUTES = (
    "INSERT INTO noormme_minutes (minute, queue, completed, failed)"
    " SELECT CAST(finished_at / 60 AS INTEGER), queue, SUM(status = 'completed'),"
    "  SUM(status = 'failed') FROM noormme_jobs WHERE status IN ('completed', 'failed')"
    "  AND finished_at >= ? GROUP BY 1, 2 ON CONFLICT (minute, queue) DO UPDATE SET"
    "  completed = completed + excluded.completed, failed = failed + excluded.failed"
)
_POSTGRES_MINUTES = (
    "INSERT INTO noormme_minutes (minute, queue, shard, completed, failed)"
    " SELECT floor(finished_at / 60)::bigint, queue, 0,"
    "  count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')"
    "  FROM noormme_jobs WHERE status IN ('completed', 'failed') AND finished_at >= %s"
    "  GROUP BY 1, 2 ON CONFLICT (minute, queue, shard) DO UPDATE SET"
    "  completed = noormme_minutes.completed + excluded.completed,"
    "  failed = noormme_minutes.failed + excluded.failed"
)


def add_finished(url: str, count: int, statuses: Sequence[str], finished_at: float) -> None:
    """``count`` finished jobs, finished in the hour before ``finished_at`` (raw bulk SQL:
    the store writes finished jobs only by running them), into a table holding no job that
    finished in that hour yet."""
    rows = finished_rows(count, statuses, finished_at)
    columns = ", ".join(_FINISHED)
    since = finished_at - 3_600.0
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            marks = ", ".join("?" * len(_FINISHED))
            conn.executemany(f"INSERT INTO noormme_jobs ({columns}) VALUES ({marks})", rows)
            conn.execute(_SQLITE_MINUTES, (since,))
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(url) as pg:
        with pg.cursor() as cur, cur.copy(f"COPY noormme_jobs ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        pg.execute(_POSTGRES_MINUTES, (since,))
        pg.commit()
        pg.execute("ANALYZE noormme_jobs")


def analyze(url: str) -> None:
    """What autovacuum would do after a bulk load on PostgreSQL (the store does it itself
    after its own bulk inserts); nothing on SQLite."""
    if url.startswith("postgres"):
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("ANALYZE noormme_jobs")


def timings_ms(samples: Sequence[float]) -> tuple[float, float, float]:
    """Median, p99 and max of durations in seconds, in milliseconds."""
    ms = [s * 1000 for s in samples]
    return statistics.median(ms), measure.percentile(ms, 99), max(ms)
