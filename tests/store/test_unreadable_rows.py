"""A row no Job can hold (written by an older version, or by hand) never stops a claim,
a recovery or a listing: it is marked failed, saying why, and the rest goes on."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from noormme_queue import JobStatus, QueueConfig, QueueManager
from noormme_queue.store import JobStore
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.sqlite import SQLiteStore

from ..conftest import wait_status
from .conftest import T0, new_job
from .test_conformance import claim

YEAR_0 = -62_167_219_200.0  # 0000-01-01: before what a datetime holds
YEAR_10000 = 253_402_300_800.0  # 10000-01-01: after it


def raw(store: JobStore, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``statement`` (``?`` placeholders) on the store's database, beside the store."""
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url, autocommit=True) as pg:
        cur = pg.execute(statement.replace("?", "%s").encode(), params)
        return cur.fetchall() if cur.description else []


def write_row(store: JobStore, job_id: str, **columns: Any) -> None:
    values: dict[str, Any] = {
        "id": job_id,
        "type": "t",
        "payload": "{}",
        "status": "pending",
        "max_attempts": 3,
        "run_at": T0,
        "created_at": T0,
        "history": "[]",
    } | columns
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    raw(store, f"INSERT INTO noormme_jobs ({names}) VALUES ({marks})", tuple(values.values()))


POISON: dict[str, tuple[dict[str, Any], str]] = {
    "job_bad_run_at": ({"run_at": YEAR_0}, "run_at"),
    "job_bad_created_at": ({"created_at": YEAR_10000}, "created_at"),
    "job_bad_payload": ({"payload": "{not json"}, "payload"),
    "job_bad_history": ({"history": '[{"attempt": "one"}]'}, "history"),
}


def write_poison(store: JobStore) -> None:
    for job_id, (columns, _) in POISON.items():
        write_row(store, job_id, **columns)


async def test_a_claim_marks_unreadable_rows_failed_and_returns_the_others(
    store: JobStore,
) -> None:
    good = [new_job(), new_job()]
    await store.enqueue(good)
    write_poison(store)

    got = await claim(store, limit=10)
    assert sorted(j.id for j in got.jobs) == sorted(j.id for j in good)
    for job_id, (_, column) in POISON.items():
        job = await store.get(job_id)
        assert job is not None and job.status is JobStatus.FAILED, job_id
        assert job.error is not None and job.error.startswith(f"cannot be read: {column} = ")
    rows = raw(store, "SELECT status, claim_token, lease_until, error FROM noormme_jobs")
    failed = [r for r in rows if r[0] == "failed"]
    assert len(failed) == len(POISON)
    assert all(r[1] is None and r[2] is None and r[3].startswith("cannot be read") for r in failed)
    stats = await store.stats()
    assert (stats.processing, stats.failed, stats.pending) == (2, len(POISON), 0)
    assert (await claim(store, limit=10)).jobs == []  # and the next claim goes on


async def test_the_error_names_the_value_and_why(store: JobStore) -> None:
    write_row(store, "job_year_0", run_at=YEAR_0)
    await claim(store)
    job = await store.get("job_year_0")
    assert job is not None
    assert job.error == f"cannot be read: run_at = {YEAR_0!r}: year 0 is out of range"


async def test_a_listing_shows_unreadable_rows_as_failed_and_goes_on(store: JobStore) -> None:
    good = new_job()
    await store.enqueue([good])
    write_poison(store)
    write_row(store, "job_done_bad_finish", status="completed", finished_at=1e300)
    listed = {j.id: j for j in await store.list_jobs(limit=50)}
    assert set(listed) == {good.id, *POISON, "job_done_bad_finish"}
    assert listed[good.id].status is JobStatus.PENDING and listed[good.id].error is None
    for job_id in [*POISON, "job_done_bad_finish"]:
        assert listed[job_id].status is JobStatus.FAILED
        assert (listed[job_id].error or "").startswith("cannot be read: ")
    assert "finished_at = 1e+300" in (listed["job_done_bad_finish"].error or "")
    # what could be read is kept: the stand-in has the row's other columns
    assert listed["job_bad_payload"].run_at == listed[good.id].run_at
    assert listed["job_bad_run_at"].payload == {}
    assert [j.id for j in await store.list_jobs(type="t", limit=1)] == ["job_done_bad_finish"]


async def test_recovery_marks_an_unreadable_expired_job_failed(store: JobStore) -> None:
    good = new_job()
    await store.enqueue([good])
    held = await claim(store, lease=10)
    write_row(
        store,
        "job_bad_lease",
        status="processing",
        payload="{not json",
        claim_token="tok",
        lease_until=T0 + 1,
        attempts=1,
    )
    expired = await store.expired_leases(now=T0 + 20, limit=10)
    assert [(e.job.id, e.token) for e in expired] == [(good.id, held.token)]
    job = await store.get("job_bad_lease")
    assert job is not None and job.status is JobStatus.FAILED
    assert (job.error or "").startswith("cannot be read: payload = '{not json': ")
    assert await store.expired_leases(now=T0 + 20, limit=10) != []  # only the good one left
    assert raw(store, "SELECT status FROM noormme_jobs WHERE id = 'job_bad_lease'") == [("failed",)]


async def test_a_time_no_clock_reaches_does_not_become_the_next_due_time(
    store: JobStore,
) -> None:
    # A worker would sleep until then; NaN would even make it poll without pause.
    times = [1e300] + ([math.nan] if isinstance(store, PostgresStore) else [])  # SQLite: NULL
    for run_at in times:
        raw(store, "DELETE FROM noormme_jobs")
        write_row(store, "job_far", run_at=run_at)
        got = await claim(store)
        assert got.jobs == [] and got.next_run_at is None, run_at


async def test_a_worker_runs_good_jobs_beside_a_poisoned_row(tmp_path: Path) -> None:
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", interval=30))
    ran = asyncio.Event()
    qm.register_handler("t", lambda job: ran.set())
    await qm.get_stats()  # opens the store, so the row goes into the migrated file
    write_row(qm.store, "job_poison", run_at=YEAR_0)
    try:
        await qm.start()
        job_id = await qm.add_job("t", {})
        await wait_status(qm, job_id, "completed")
        await wait_status(qm, "job_poison", "failed")
        assert ran.is_set()
        listed = await qm.get_jobs_by_status("failed", limit=10)
        assert [j.id for j in listed] == ["job_poison"]
    finally:
        await qm.stop(timeout=5)
