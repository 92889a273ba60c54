"""A job's timeline is read by its primary key, on both backends, however many jobs there
are; the claim's event needs no other index, and cleanup's batched delete keeps its plan
(the events go with the rows)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.sqlite import SQLiteStore, sql

from ..pg import fresh_schema
from .conftest import T0, new_job
from .plans import postgres_plan, sqlite_plan


async def test_sqlite_reads_a_timeline_by_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.enqueue([new_job(run_at=T0 + i) for i in range(2_000)])
    await store.close()
    read = sqlite_plan(path, sql.JOB_EVENTS, ("job_x",))
    assert "USING INDEX sqlite_autoindex_noormme_jobs_1 (id=?)" in read and "SCAN" not in read
    purge = sqlite_plan(path, sql.PURGE, (0.0, 500))
    assert "noormme_jobs_finished" in purge
    claim = sqlite_plan(path, sql.CLAIM(2), ("t", "w", 0.0, 0.0, "a", "b"))
    assert "id=?)" in claim and "SCAN" not in claim  # the claimed event: no other index


async def test_postgres_reads_a_timeline_by_primary_key() -> None:
    with fresh_schema() as url:
        store = PostgresStore(url)
        await store.enqueue([new_job(run_at=T0 + i) for i in range(20_000)])
        await store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE noormme_jobs")
        read = postgres_plan(url, pg_sql.JOB_EVENTS, {"id": "job_x"})
        assert "Index Scan using noormme_jobs_pkey" in read and "Seq Scan" not in read
        purge = postgres_plan(url, pg_sql.PURGE, {"before": 0.0, "limit": 500})
        assert "noormme_jobs_finished" in purge
