"""Transactional enqueue: ``add_job(..., connection=conn)`` writes the job through the
caller's open connection, in the caller's transaction (engine/transaction.py,
``JobStore.enqueue_on``): rolled back, no job; committed, the worker runs it. On a raw
``sqlite3.Connection`` to the queue's file and on a psycopg connection to its database;
Django's connection is in tests/frameworks/test_django_tasks.py."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from noormme_queue import InvalidJob, Job, QueueConfig, QueueManager

from ..conftest import wait_status
from ..pg import fresh_schema
from ..process.conftest import ROOT


def manager(url: str) -> QueueManager:
    # A 30 s poll: a job that runs promptly was woken, not polled.
    config = QueueConfig(database_url=url, interval=30.0, cleanup_interval=0)
    qm = QueueManager(config, builtins=False)
    ran: list[str] = []

    def ship(job: Job) -> str:
        ran.append(job.payload["order"])
        return f"shipped {job.payload['order']}"

    qm.register_handler("ship", ship)
    return qm


@pytest.fixture
async def sqlite_qm(db_url: str) -> AsyncIterator[QueueManager]:
    qm = manager(db_url)
    await qm.store.open()  # the queue's tables exist before the app's first transaction
    with sqlite3.connect(urlparse(db_url).path) as conn:
        conn.execute("CREATE TABLE orders (ref TEXT NOT NULL)")
    yield qm
    await qm.stop(timeout=5)


def sqlite_conn(qm: QueueManager) -> sqlite3.Connection:
    return sqlite3.connect(urlparse(qm.config.database_url).path)


def orders(conn: Any) -> list[str]:
    return [row[0] for row in conn.execute("SELECT ref FROM orders ORDER BY ref")]


# -- SQLite -------------------------------------------------------------------------------------


async def test_sqlite_rolled_back_means_no_job(sqlite_qm: QueueManager) -> None:
    conn = sqlite_conn(sqlite_qm)
    conn.execute("INSERT INTO orders (ref) VALUES ('A-1')")
    job_id = await sqlite_qm.add_job("ship", {"order": "A-1"}, connection=conn)
    assert await sqlite_qm.get_job(job_id) is None  # not visible before the commit
    conn.rollback()
    assert await sqlite_qm.get_job(job_id) is None
    assert (await sqlite_qm.get_stats()).total == 0
    assert orders(conn) == []
    conn.close()


async def test_sqlite_committed_means_the_worker_runs_it(sqlite_qm: QueueManager) -> None:
    await sqlite_qm.start()
    await idle(sqlite_qm)
    conn = sqlite_conn(sqlite_qm)
    conn.execute("INSERT INTO orders (ref) VALUES ('A-2')")
    job_id = await sqlite_qm.add_job("ship", {"order": "A-2"}, connection=conn)
    conn.commit()
    sqlite_qm.notify_committed()  # after the commit: wake the workers now, not at their poll
    await wait_status(sqlite_qm, job_id, "completed", timeout=10)
    assert orders(conn) == ["A-2"]
    conn.close()


async def test_sqlite_autocommit_connection_wakes_at_once(sqlite_qm: QueueManager) -> None:
    await sqlite_qm.start()
    await idle(sqlite_qm)
    conn = sqlite_conn(sqlite_qm)
    conn.isolation_level = None  # autocommit: the write is committed when add_job returns
    job_id = await sqlite_qm.add_job("ship", {"order": "A-3"}, connection=conn)
    await wait_status(sqlite_qm, job_id, "completed", timeout=10)
    conn.close()


def test_sqlite_sync_twin_and_task_using_connection(sqlite_qm: QueueManager) -> None:
    @sqlite_qm.task(name="invoice")
    def invoice(order: str, total: int) -> str:
        return f"{order}: {total}"

    # A plain sqlite3 connection belongs to its thread: the sync twin writes on this one.
    conn = sqlite_conn(sqlite_qm)
    conn.execute("INSERT INTO orders (ref) VALUES ('B-1')")
    first = sqlite_qm.sync.add_job("ship", {"order": "B-1"}, connection=conn)
    second = invoice.using(connection=conn, priority=3).sync.enqueue("B-1", 20)
    both = sqlite_qm.sync.add_jobs(
        [("ship", {"order": "B-2"}), ("invoice", {"order": "B-2", "total": 5})], connection=conn
    )
    conn.rollback()
    assert [sqlite_qm.sync.get_job(i) for i in (first, second, *both)] == [None] * 4
    conn.execute("INSERT INTO orders (ref) VALUES ('B-3')")
    third = invoice.using(connection=conn).sync.enqueue("B-3", 7)
    conn.commit()
    job = sqlite_qm.sync.get_job(third)
    assert job is not None and job.payload == {"order": "B-3", "total": 7}
    assert sqlite_qm.sync.get_stats().total == 1
    conn.close()
    sqlite_qm.sync.close()


async def test_sqlite_a_connection_elsewhere_is_refused(
    sqlite_qm: QueueManager, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "app.db")
    with pytest.raises(InvalidJob, match=r"connection= is a connection to .*app\.db") as caught:
        await sqlite_qm.add_job("ship", {"order": "x"}, connection=other)
    assert caught.value.field == "connection"
    memory = sqlite3.connect(":memory:")
    with pytest.raises(InvalidJob, match="an in-memory database"):
        await sqlite_qm.add_job("ship", {"order": "x"}, connection=memory)
    with pytest.raises(InvalidJob, match=r"must be a sqlite3\.Connection") as caught:
        await sqlite_qm.add_job("ship", {"order": "x"}, connection="queue.db")
    assert caught.value.field == "connection"
    with fresh_schema() as url, pytest.raises(InvalidJob, match="must be a psycopg"):
        pg = manager(url)  # a schema of its own: the shared one may hold any schema version
        try:
            await pg.add_job("ship", {}, connection=other)
        finally:
            await pg.stop(timeout=1)
    assert (await sqlite_qm.get_stats()).total == 0


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (ref text NOT NULL)")
        yield url


async def test_postgres_rolled_back_means_no_job(pg_url: str) -> None:
    qm = manager(pg_url)
    try:
        with psycopg.connect(pg_url) as conn:
            conn.execute("INSERT INTO orders (ref) VALUES ('P-1')")
            job_id = await qm.add_job("ship", {"order": "P-1"}, connection=conn)
            assert await qm.get_job(job_id) is None  # other connections don't see it yet
            conn.rollback()
            assert orders(conn) == []
        assert await qm.get_job(job_id) is None
        assert (await qm.get_stats()).total == 0
    finally:
        await qm.stop(timeout=5)


async def idle(qm: QueueManager) -> None:
    """Run one ordinary job to the end: its completion is saved with the worker's next claim,
    which finds nothing, so from then on only a wake-up (or the 30 s poll) starts a job."""
    await wait_status(qm, await qm.add_job("ship", {"order": "warm-up"}), "completed")


async def test_postgres_committed_wakes_the_worker_by_notify(pg_url: str) -> None:
    qm = manager(pg_url)
    await qm.start()
    try:
        await idle(qm)
        with psycopg.connect(pg_url) as conn:
            conn.execute("INSERT INTO orders (ref) VALUES ('P-2')")
            job_id = await qm.add_job("ship", {"order": "P-2"}, connection=conn)
            conn.commit()  # the NOTIFY goes out with the commit: no notify_committed needed
        await wait_status(qm, job_id, "completed", timeout=10)
        task = qm.task(name="invoice")(invoice)
        with psycopg.connect(pg_url) as conn:
            second = await task.using(connection=conn).enqueue("P-3")
            conn.commit()
        await wait_status(qm, second, "completed", timeout=10)
    finally:
        await qm.stop(timeout=5)


def invoice(order: str) -> str:
    return f"invoice {order}"


def test_postgres_sync_twin_writes_in_the_callers_transaction(pg_url: str) -> None:
    qm = manager(pg_url)
    task = qm.task(name="invoice")(invoice)
    try:
        with psycopg.connect(pg_url) as conn:
            first = qm.sync.add_job("ship", {"order": "P-4"}, connection=conn)
            second = task.using(connection=conn).sync.enqueue("P-4")
            conn.rollback()
            third = task.using(connection=conn).sync.enqueue("P-5")
            conn.commit()
        assert qm.sync.get_job(first) is None and qm.sync.get_job(second) is None
        job = qm.sync.get_job(third)
        assert job is not None and job.payload == {"order": "P-5"}
    finally:
        qm.sync.close()


async def test_postgres_a_connection_elsewhere_is_refused(pg_url: str) -> None:
    qm = manager(pg_url)
    try:
        with fresh_schema() as other_url, psycopg.connect(other_url) as other:
            with pytest.raises(InvalidJob, match="search_path schema") as caught:
                await qm.add_job("ship", {"order": "x"}, connection=other)
            assert caught.value.field == "connection"
        with pytest.raises(InvalidJob, match="must be a psycopg"):
            await qm.add_job("ship", {}, connection=sqlite3.connect(":memory:"))
        assert (await qm.get_stats()).total == 0
    finally:
        await qm.stop(timeout=5)


# -- a crash between the business write and the commit ----------------------------------------


def crash(kind: str, url: str, *, commit: bool) -> str:
    """Run tests/tasks/crash_writer.py; SIGKILL it inside its open transaction unless it
    commits. Returns the id of the job it wrote."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tasks.crash_writer", kind, url, *(["commit"] * commit)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    job_id = proc.stdout.readline().strip()  # written, not committed (unless commit)
    assert job_id.startswith("job_"), job_id
    if not commit:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stdin is not None
    proc.stdin.close()
    proc.stdout.close()
    return job_id


@pytest.mark.parametrize("commit", [False, True], ids=["killed-before-commit", "committed"])
async def test_sqlite_crash_before_commit_leaves_no_job(
    sqlite_qm: QueueManager, commit: bool
) -> None:
    job_id = crash("sqlite", sqlite_qm.config.database_url, commit=commit)
    conn = sqlite_conn(sqlite_qm)
    assert orders(conn) == (["A-1"] if commit else [])
    conn.close()
    job = await sqlite_qm.get_job(job_id)
    assert (job is not None) is commit
    assert (await sqlite_qm.get_stats()).total == int(commit)


@pytest.mark.parametrize("commit", [False, True], ids=["killed-before-commit", "committed"])
async def test_postgres_crash_before_commit_leaves_no_job(pg_url: str, commit: bool) -> None:
    qm = manager(pg_url)
    try:
        job_id = crash("postgres", pg_url, commit=commit)
        with psycopg.connect(pg_url) as conn:
            assert orders(conn) == (["A-1"] if commit else [])
        assert ((await qm.get_job(job_id)) is not None) is commit
        assert (await qm.get_stats()).total == int(commit)
    finally:
        await qm.stop(timeout=5)
