"""Opening on a locked database waits as writes do (store/base.py GIVE_UP_AFTER), instead of
failing the first call of a new process after SQLite's busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from noormme_queue import QueueConfig, QueueManager, StoreUnavailable
from noormme_queue.store import base
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres.schema import MIGRATION_LOCK
from noormme_queue.store.sqlite import SQLiteStore, locks

from ..conftest import wait_until
from ..pg import admin, fresh_schema
from .conftest import new_job

STILL_WAITING = "still waiting for the write lock"


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's own wait, 5 s in production, made short: the lock below outlasts it."""
    monkeypatch.setattr(locks, "BUSY_TIMEOUT", 0.2)


async def migrated(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


async def first_add_waits_for(
    other: sqlite3.Connection, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first call of a new manager, while ``other`` holds the write lock, outlasts the
    busy timeout (the store logs that it keeps waiting); released, the call succeeds."""
    caplog.set_level("WARNING", logger="noormme_queue.store")
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{path}"), builtins=False)
    try:
        first = asyncio.create_task(qm.add_job("t", {"n": 1}))
        await wait_until(
            lambda: STILL_WAITING in caplog.text or first.done(), 10, "the open to wait"
        )
        assert not first.done(), first.exception()  # waiting past the busy timeout
        other.execute("COMMIT")
        job_id = await asyncio.wait_for(first, 10)
        job = await qm.get_job(job_id)
        assert job is not None and job.payload == {"n": 1}
    finally:
        other.close()
        await qm.stop(timeout=5)


@pytest.mark.usefixtures("short_busy_timeout")
async def test_opening_a_locked_database_waits_like_a_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.db"
    await migrated(path)  # a queue file in WAL mode; the open migrates in BEGIN IMMEDIATE
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    await first_add_waits_for(other, path, caplog)


@pytest.mark.usefixtures("short_busy_timeout")
async def test_switching_an_applications_locked_file_to_wal_waits_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "app.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE users (name TEXT)")  # the application's file, rollback journal
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO users VALUES ('ada')")
    await first_add_waits_for(other, path, caplog)


@pytest.mark.usefixtures("short_busy_timeout")
async def test_opening_gives_up_after_the_wait_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    await migrated(path)
    monkeypatch.setattr(base, "GIVE_UP_AFTER", 0.5)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="stayed locked by another connection"):
            await SQLiteStore(path).open()
    finally:
        other.close()


# -- PostgreSQL: the migration's advisory lock -------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema, and an application_name that finds this test's connections."""
    with fresh_schema() as url:
        yield f"{url}&application_name=nq-open-{uuid.uuid4().hex[:12]}"


def waiting_for_a_lock(url: str) -> bool:
    name = url.rsplit("application_name=", 1)[1]
    with admin() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
    return row is not None and row[0] == 1


@pytest.fixture
def migration_lock_held() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Another process migrating: it holds the advisory lock (for a moment only: every
    test database on this server shares the key)."""
    conn = admin()
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        yield conn
    finally:
        conn.close()  # releases it


async def test_postgres_opening_waits_for_the_migration_lock(
    pg_url: str, migration_lock_held: psycopg.Connection[tuple[object, ...]]
) -> None:
    store = PostgresStore(pg_url)
    opening = asyncio.create_task(store.open())
    await wait_until(lambda: waiting_for_a_lock(pg_url) or opening.done(), 10, "a lock wait")
    assert not opening.done()
    migration_lock_held.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    await asyncio.wait_for(opening, 10)
    assert await store.enqueue([job := new_job()]) == [job.id]
    await store.close()


async def test_postgres_opening_gives_up_after_the_wait_limit(
    pg_url: str,
    migration_lock_held: psycopg.Connection[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "GIVE_UP_AFTER", 0.3)
    with pytest.raises(StoreUnavailable, match=r"held a lock for over 0\.3s"):
        await PostgresStore(pg_url).open()
