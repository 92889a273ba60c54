"""A scrape's database read (``queues()``: the kept counts, the queues, the type
definitions) never reads the jobs table, on either backend: its cost grows with queues and
types, not jobs (bench/metrics.py times it at 1,000,000 jobs)."""

from __future__ import annotations

from pathlib import Path

from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.sqlite import SQLiteStore, sql

from ..pg import fresh_schema
from ..store.plans import postgres_plan, sqlite_plan

SCRAPE_READS = ("QUEUE_COUNTS", "QUEUES", "TYPES")


async def test_the_scrape_reads_no_job_row_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    plans = {name: sqlite_plan(path, getattr(sql, name)) for name in SCRAPE_READS}
    assert "noormme_counts" in plans["QUEUE_COUNTS"]
    assert all("noormme_jobs" not in plan for plan in plans.values()), plans


async def test_the_scrape_reads_no_job_row_on_postgres() -> None:
    with fresh_schema() as url:
        store = PostgresStore(url)
        await store.open()
        await store.close()
        plans = {name: postgres_plan(url, getattr(pg_sql, name)) for name in SCRAPE_READS}
    assert "noormme_counts" in plans["QUEUE_COUNTS"]
    assert all("noormme_jobs" not in plan for plan in plans.values()), plans
