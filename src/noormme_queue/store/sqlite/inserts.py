"""Writing new jobs inside a transaction: ``enqueue``'s and a schedule's fire alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..base import NewJob
from ..rows import initial_status
from . import sql


def insert_jobs(conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[str]:
    """Write ``jobs`` (in the caller's transaction), each ``pending`` or ``scheduled`` by
    its ``run_at`` (the kept counts follow by trigger); a live job with the same unique key
    wins: its id is returned instead."""
    ids: list[str] = []
    for job in jobs:
        if job.unique_key is not None:
            row = conn.execute(sql.LIVE_BY_UNIQUE_KEY, (job.unique_key,)).fetchone()
            if row is not None:
                ids.append(row[1])
                continue
        conn.execute(
            sql.ENQUEUE,
            (
                job.id,
                job.type,
                job.payload,
                initial_status(job),
                job.priority,
                job.max_attempts,
                job.max_attempts,
                job.run_at,
                job.created_at,
                job.retry_policy,
                job.unique_key,
                job.timeout,
                job.queue,
                job.limit_key,
                job.schedule,
                job.traceparent,
            ),
        )
        ids.append(job.id)
    return ids
