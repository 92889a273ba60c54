"""Writing new jobs inside a transaction: ``enqueue``'s and a schedule's fire alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..base import NewJob
from ..events import EventRow, enqueued
from ..rows import initial_status
from . import sql

EVENTS_CHUNK = 100  # events written by one statement


def insert_jobs(conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> list[str]:
    """Write ``jobs`` (in the caller's transaction), each ``pending`` or ``scheduled`` by
    its ``run_at`` (the kept counts follow by trigger); a live job with the same unique key
    wins: its id is returned instead."""
    ids: list[str] = []
    events: list[EventRow] = []
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
            ),
        )
        ids.append(job.id)
        events.append(enqueued(job))
    add_events(conn, events)
    return ids


def add_events(conn: sqlite3.Connection, rows: Sequence[EventRow]) -> None:
    """Write timeline events in the caller's transaction, a statement per chunk of rows."""
    for start in range(0, len(rows), EVENTS_CHUNK):
        chunk = rows[start : start + EVENTS_CHUNK]
        conn.execute(sql.ADD_EVENTS(len(chunk)), [value for row in chunk for value in row])
