"""Writing new jobs inside a transaction: ``enqueue``'s and a schedule's fire alike."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..base import NewJob
from ..rows import initial_status, new_job_row
from . import sql, tally


def insert_jobs(conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[str]:
    """Write ``jobs`` (in the caller's transaction), each ``pending`` or ``scheduled`` by
    its ``run_at``; a live job with the same unique key wins: its id is returned instead.
    The kept counts follow by trigger for one job, by :mod:`.tally` for a batch."""
    if len(jobs) > 1 and all(job.unique_key is None for job in jobs):
        return _insert_batch(conn, jobs)
    ids: list[str] = []
    for job in jobs:
        if job.unique_key is not None:
            row = conn.execute(sql.LIVE_BY_UNIQUE_KEY, (job.unique_key,)).fetchone()
            if row is not None:
                ids.append(row[1])
                continue
        conn.execute(sql.ENQUEUE, new_job_row(job, initial_status(job), job.queue))
        ids.append(job.id)
    return ids


def _insert_batch(conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[str]:
    """Jobs without unique keys in one ``executemany``, each queue resolved as ``ENQUEUE``'s
    ``COALESCE`` does (the job's, else its type's, else ``default``), counted per group."""
    queues = dict(conn.execute(sql.TYPE_QUEUES).fetchall())
    added: Counter[tuple[Any, Any, str]] = Counter()
    rows = []
    for job in jobs:
        queue = job.queue if job.queue is not None else queues.get(job.type, "default")
        status = initial_status(job)
        added[(queue, job.type, status)] += 1
        rows.append(new_job_row(job, status, queue))
    conn.executemany(sql.ENQUEUE_COUNTED, rows)
    tally.inserted(conn, added)
    return [job.id for job in jobs]
