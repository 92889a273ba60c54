"""The store conformance suite runs against every backend listed here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from noormme_queue.core.ids import new_job_id
from noormme_queue.store import JobStore, NewJob
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.sqlite import SQLiteStore

from ..pg import fresh_schema

T0 = 1_800_000_000.0


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobStore]:
    """Each backend, empty: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        backend: JobStore = SQLiteStore(tmp_path / "store.db")
        await backend.open()
        yield backend
        await backend.close()
        return
    with fresh_schema() as url:
        backend = PostgresStore(url)
        await backend.open()
        yield backend
        await backend.close()


def new_job(
    type: str = "t",
    payload: object = None,
    *,
    priority: int = 0,
    run_at: float = T0,
    created_at: float = T0,
    max_attempts: int = 3,
    unique_key: str | None = None,
    queue: str = "default",
    limit_key: str | None = None,
) -> NewJob:
    return NewJob(
        id=new_job_id(),
        type=type,
        payload=json.dumps(payload),
        priority=priority,
        max_attempts=max_attempts,
        run_at=run_at,
        created_at=created_at,
        unique_key=unique_key,
        queue=queue,
        limit_key=limit_key,
    )
