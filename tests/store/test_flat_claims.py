"""A claim's work does not grow with a backlog it does not take from (issue: a million
jobs of another type, another queue, or due tomorrow at a higher priority once made every
claim walk past them).

The work is counted, not timed: SQLite's virtual-machine steps during a claim (a progress
handler), and PostgreSQL's buffer accesses (EXPLAIN ANALYZE, BUFFERS). Beside a backlog ten
times larger the claim does the same work, give or take the index's one extra level.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest

from noormme_queue.store.claiming import STAGE_BATCH
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.sqlite import SQLiteStore
from noormme_queue.store.sqlite.claim import claim_rows

from ..pg import fresh_schema
from .conftest import T0, new_job

SMALL, LARGE = 2_000, 20_000
BACKLOGS = ["other type", "other queue", "due tomorrow"]


def backlog(shape: str, count: int) -> list[object]:
    if shape == "other type":
        return [new_job("other") for _ in range(count)]
    if shape == "other queue":
        return [new_job("t", queue="bulk") for _ in range(count)]
    return [new_job("t", priority=5, run_at=T0 + 86_400) for _ in range(count)]


async def sqlite_steps(tmp_path: Path, shape: str, count: int) -> int:
    path = tmp_path / f"{shape}-{count}.db"
    store = SQLiteStore(path)
    await store.open()
    await store.enqueue(backlog(shape, count))  # type: ignore[arg-type]
    await store.enqueue([new_job("t") for _ in range(200)])
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    steps = 0

    def count_steps() -> int:
        nonlocal steps
        steps += 1
        return 0

    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.set_progress_handler(count_steps, 100)
        queues = {"default": 50} if shape == "other queue" else None
        rows, _ = claim_rows(
            conn, ["t"], 50, queues=queues, now=T0, lease_until=T0 + 30, worker_id="w", token="k"
        )
        conn.set_progress_handler(None, 0)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    assert len(rows) == 50
    return steps


@pytest.mark.parametrize("shape", BACKLOGS)
async def test_a_sqlite_claim_does_the_same_work_beside_a_larger_backlog(
    tmp_path: Path, shape: str
) -> None:
    small = await sqlite_steps(tmp_path, shape, SMALL)
    large = await sqlite_steps(tmp_path, shape, LARGE)
    assert large <= small * 1.1 + 10, (small, large)


async def postgres_buffers(shape: str, count: int) -> tuple[int, int]:
    with fresh_schema() as url:
        store = PostgresStore(url)
        await store.open()
        await store.enqueue(backlog(shape, count))  # type: ignore[arg-type]
        await store.enqueue([new_job("t") for _ in range(200)])
        await store.close()
        params = {
            "token": "k",
            "worker_id": "w",
            "lease_until": T0 + 30,
            "now": T0,
            "types": ["t"],
            "limit": 50,
            "stage": STAGE_BATCH,
            "all_queues": shape != "other queue",
            "queues": ["default"] if shape == "other queue" else [],
            "budgets": [50] if shape == "other queue" else [],
        }
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE noormme_jobs")
            plan = conn.execute(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) {pg_sql.CLAIM_READY}", params
            ).fetchall()
            conn.rollback()
    # The claim index's scan: where a backlog would be walked; and the whole statement's
    # (the first Buffers line, its top node's), which marks the 50 picks processing.
    lines = [str(r[0]) for r in plan]
    start = next(n for n, line in enumerate(lines) if "Index Scan using noormme_jobs_claim" in line)
    scan = next(line for line in lines[start:] if "Buffers:" in line)
    whole = next(line for line in lines if "Buffers:" in line)
    return tuple(  # type: ignore[return-value]
        sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", line)) for line in (scan, whole)
    )


@pytest.mark.parametrize("shape", BACKLOGS)
async def test_a_postgres_claim_does_the_same_work_beside_a_larger_backlog(shape: str) -> None:
    (small, small_whole), (large, large_whole) = [
        await postgres_buffers(shape, n) for n in (SMALL, LARGE)
    ]
    assert large <= small + 3, (small, large)  # an index level more at most
    # Marking the picks finds them by primary key (a join to them once scanned the table:
    # +111 buffers here): at most an index level more for each of the 50 rows it marks.
    assert large_whole <= small_whole + 60, (small_whole, large_whole)
