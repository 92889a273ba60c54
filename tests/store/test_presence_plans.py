"""What the dashboard's poll and the doctor read for workers, activity and health stays cheap
beside 1,000,000 jobs: their plans touch only the small kept tables (``noormme_workers``,
``noormme_minutes``, ``noormme_counts``, ``noormme_queues``) or the few ``processing`` rows
through the status index, never a scan of the jobs; on SQLite the statements do the same
work (virtual-machine steps, counted) beside 1,000 jobs and beside 1,000,000."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from noormme_queue.store import WorkerBeat
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.sqlite import SQLiteStore, sql

from ..pg import fresh_schema
from .conftest import T0
from .plans import postgres_plan, sqlite_plan

MILLION = 1_000_000
PROCESSING = 20  # jobs running, whatever the backlog

# Most jobs finished, a backlog pending, a few running (their leases ended at T0 + 30).
_ROWS = """
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
    INSERT INTO noormme_jobs (id, type, payload, status, max_attempts, run_at, created_at,
        finished_at, queue, lease_until, worker_id)
    SELECT printf('job_%012d', i), 't' || (i % 7), '{{}}',
        CASE WHEN i <= {processing} THEN 'processing' WHEN i % 3 = 0 THEN 'pending'
            ELSE 'completed' END,
        3, {t0} + i, {t0} + i, {t0} + i, 'q' || (i % 5),
        CASE WHEN i <= {processing} THEN {t0} + 30 END,
        CASE WHEN i <= {processing} THEN 'w' END
    FROM n
"""


async def _sqlite_store(path: Path, count: int) -> None:
    store = SQLiteStore(path)
    await store.open()
    for n in range(3):  # three workers, an hour of minutes for five queues
        beat = WorkerBeat(f"w{n}", "box", n, None, 5, ("t0",), (), T0, T0 + 20)
        await store.beat(beat, now=T0)
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(_ROWS.format(count=count, processing=PROCESSING, t0=T0))
        conn.executemany(
            "INSERT INTO noormme_minutes (minute, queue, completed, failed, started, wait_sum,"
            " wait_max) VALUES (?, ?, 1, 0, 1, 0.5, 0.5)",
            [(int(T0 // 60) - m, f"q{q}") for m in range(60) for q in range(5)],
        )
        conn.execute("INSERT INTO noormme_queues (name, paused, updated_at) VALUES ('q1', 1, 0)")
        conn.execute("COMMIT")
    finally:
        conn.close()


def _reads(path: Path) -> dict[str, int]:
    """Each poll and doctor read, run on its own connection: its virtual-machine steps."""
    reads = {
        "activity": (sql.ACTIVITY, (int(T0 // 60) - 59,)),
        "workers": (sql.LIVE_WORKERS, (T0,)),
        "stuck": (sql.STUCK_LEASES, (T0 + 60, 5)),
        "count stuck": (sql.COUNT_STUCK, (T0 + 60,)),
        "queue counts": (sql.QUEUE_COUNTS, ()),
        "paused": (sql.PAUSED_QUEUES, ()),
        "pending types": (sql.PENDING_TYPES, ()),
    }
    conn = sqlite3.connect(path)
    steps: dict[str, int] = {}
    try:
        for name, (statement, params) in reads.items():
            count = 0

            def step() -> int:
                nonlocal count
                count += 1
                return 0

            conn.set_progress_handler(step, 100)
            rows = conn.execute(statement, params).fetchall()
            conn.set_progress_handler(None, 0)
            assert rows, name
            steps[name] = count
    finally:
        conn.close()
    return steps


async def test_sqlite_reads_stay_flat_beside_a_million_jobs(tmp_path: Path) -> None:
    small, large = tmp_path / "small.db", tmp_path / "large.db"
    await _sqlite_store(small, 1_000)
    started = time.monotonic()
    await _sqlite_store(large, MILLION)
    print(f"1,000,000 jobs written in {time.monotonic() - started:.1f}s")

    plans = {
        "activity": sqlite_plan(large, sql.ACTIVITY, (0,)),
        "workers": sqlite_plan(large, sql.LIVE_WORKERS, (T0,)),
        "stuck": sqlite_plan(large, sql.STUCK_LEASES, (T0, 5)),
        "count stuck": sqlite_plan(large, sql.COUNT_STUCK, (T0,)),
    }
    assert "SEARCH noormme_minutes USING PRIMARY KEY (minute>?)" in plans["activity"]
    assert "noormme_jobs" not in plans["activity"] + plans["workers"]
    for name in ("stuck", "count stuck"):
        assert "USING INDEX noormme_jobs_status (status=?)" in plans[name], plans[name]

    few, many = _reads(small), _reads(large)
    for name in few:
        # the same work, give or take an index level or two
        assert many[name] <= few[name] + 5, (name, few[name], many[name])


async def test_postgres_reads_use_the_kept_tables_beside_a_million_jobs() -> None:
    with fresh_schema() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            await store.beat(WorkerBeat("w", "box", 1, None, 5, ("t0",), (), T0, T0 + 20), now=T0)

            def load(conn: object) -> None:
                conn.execute(  # type: ignore[attr-defined]
                    "INSERT INTO noormme_jobs (id, type, payload, status, max_attempts, run_at,"
                    " created_at, finished_at, queue, lease_until, worker_id)"
                    " SELECT 'job_' || lpad(i::text, 12, '0'), 't' || (i % 7), '{}',"
                    f"  CASE WHEN i <= {PROCESSING} THEN 'processing' WHEN i % 3 = 0"
                    "   THEN 'pending' ELSE 'completed' END,"
                    f"  3, {T0} + i, {T0} + i, {T0} + i, 'q' || (i % 5),"
                    f"  CASE WHEN i <= {PROCESSING} THEN {T0} + 30 END,"
                    f"  CASE WHEN i <= {PROCESSING} THEN 'w' END"
                    f" FROM generate_series(1, {MILLION}) i"
                )
                conn.execute("ANALYZE")  # type: ignore[attr-defined]

            started = time.monotonic()
            await store._run(load, write=True)
            print(f"1,000,000 jobs written in {time.monotonic() - started:.1f}s")
            plans = {
                "activity": postgres_plan(url, pg_sql.ACTIVITY, {"minute": 0}),
                "workers": postgres_plan(url, pg_sql.LIVE_WORKERS, {"now": T0}),
                "stuck": postgres_plan(url, pg_sql.STUCK_LEASES, {"before": T0, "limit": 5}),
                "count stuck": postgres_plan(url, pg_sql.COUNT_STUCK, {"before": T0}),
                "queue counts": postgres_plan(url, pg_sql.QUEUE_COUNTS),
                "pending types": postgres_plan(url, pg_sql.PENDING_TYPES),
            }
            assert "noormme_minutes" in plans["activity"]
            assert "noormme_workers" in plans["workers"]
            for name in ("activity", "workers", "queue counts", "pending types"):
                assert "noormme_jobs" not in plans[name], (name, plans[name])
            for name in ("stuck", "count stuck"):
                plan = plans[name]
                assert "Seq Scan on noormme_jobs" not in plan, (name, plan)
                assert "noormme_jobs_status" in plan or "noormme_jobs_running" in plan, plan
            health = await store.health(stuck_before=T0 + 60, limit=5)
            assert health.stuck_count == PROCESSING and len(health.stuck) == 5
        finally:
            await store.close()
