"""What only the SQLite backend has: the file, its pragmas, schema versions, query plans."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from noormme_queue import ConfigError, SchemaTooNew, StoreCorrupt
from noormme_queue.core.job import JobStatus
from noormme_queue.core.routing import TypeDefinition, TypeLimits
from noormme_queue.store import Completed
from noormme_queue.store.sqlite import SQLiteStore, sql, sqlite_path_from_url
from noormme_queue.store.sqlite.schema import SCHEMA_VERSION

from .conftest import T0, new_job
from .plans import sqlite_plan
from .test_conformance import attempt


async def test_file_is_wal_with_the_configured_synchronous(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db", synchronous="FULL")
    await store.open()
    await store.enqueue([new_job()])
    sync_level = await store._write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    busy = await store._write(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0])
    await store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM noormme_meta WHERE key = 'schema_version'").fetchone()[
        0
    ] == str(SCHEMA_VERSION)
    conn.close()
    assert sync_level == 2  # FULL
    assert busy > 0


async def test_claim_and_maintenance_queries_use_their_indexes(tmp_path: Path) -> None:
    # The claim reads each (queue, type) pair's due jobs from the claim index in claim
    # order: no sort, and no row of another type, another queue or a scheduled job is
    # walked (tests/store/test_flat_claims.py counts the work beside big backlogs).
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    candidates = sqlite_plan(path, sql.CANDIDATES, ("default", "t", 0.0, 10))
    assert "noormme_jobs_claim (queue=? AND type=?" in candidates
    assert "TEMP B-TREE" not in candidates  # ordered by the index, never sorted
    claim = sqlite_plan(path, sql.CLAIM(2), ("t", "w", 0.0, 0.0, "a", "b"))
    assert "id=?)" in claim and "SCAN" not in claim  # one seek per chosen id
    pairs = {"q0": "default", "t0": "t", "b0": 10, "q1": "mail", "t1": "t", "b1": 10}
    marks = {"token": "k", "worker_id": "w", "lease_until": 0.0, "now": 0.0, "limit": 10}
    ready = sqlite_plan(path, sql.CLAIM_READY(2), marks | pairs)
    # each pair a seek of the claim index in its order; only the picks (<= b0 + b1) sorted
    assert (
        ready.count("SEARCH noormme_jobs USING INDEX noormme_jobs_claim (queue=? AND type=?)") == 2
    )
    assert ready.count("TEMP B-TREE") == 1 and ready.endswith("USE TEMP B-TREE FOR ORDER BY")
    assert "SCAN noormme_jobs" not in ready and "(status=? AND id=?)" in ready
    alone = {"q0": "default", "t0": "t", "b0": 10}
    ready = sqlite_plan(path, sql.CLAIM_READY(1), marks | alone)
    assert "noormme_jobs_claim (queue=? AND type=?)" in ready and "TEMP B-TREE" not in ready
    stage = sqlite_plan(path, sql.STAGE, (0.0, 500))
    assert "noormme_jobs_scheduled (run_at<?)" in stage and "TEMP B-TREE" not in stage
    assert "noormme_jobs_scheduled" in sqlite_plan(path, sql.NEXT_DUE)
    assert "noormme_jobs_running (type=?)" in sqlite_plan(path, sql.RUNNING_BY_KEY, ("t",))
    assert "noormme_rates USING PRIMARY KEY (type=? AND limit_key=?)" in sqlite_plan(
        path, sql.RATE_USAGE(2), ("t", "a", "b")
    )
    assert "noormme_starts_key (type=? AND limit_key=? AND started_at>?)" in sqlite_plan(
        path, sql.OLDEST_START, ("t", "a", 0.0)
    )
    assert "noormme_starts_window (type=? AND started_at<?)" in sqlite_plan(
        path, sql.FORGET_STARTS, ("t", 0.0)
    )
    assert "noormme_counts" in sqlite_plan(path, sql.READY_PAIRS)
    assert "noormme_counts" in sqlite_plan(path, sql.STATS)
    # One queue's counts: a seek of the kept counts' key (queue first), no job row read.
    of_queue = sqlite_plan(path, sql.QUEUE_STATS, ("emails",))
    assert "SEARCH noormme_counts USING PRIMARY KEY (queue=?)" in of_queue
    assert "noormme_jobs" not in of_queue
    assert "noormme_jobs_finished" in sqlite_plan(path, sql.PURGE, (0.0, 500))
    assert "noormme_jobs_status" in sqlite_plan(path, sql.EXPIRED_LEASES, (0.0, 100))
    listing = sqlite_plan(path, sql.LIST_JOBS(1, False, False, True), ("failed", "job_x", 50))
    assert "noormme_jobs_status (status=? AND id<?)" in listing
    assert "TEMP B-TREE" not in listing
    # pending is two stored statuses: two index walks, each stopping at the limit; only
    # their (at most 2 * limit) rows are merged
    pending = sqlite_plan(path, sql.LIST_JOBS(2, False, False, False), ("a", 50, "b", 50, 50))
    assert pending.count("noormme_jobs_status (status=?)") == 2


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE noormme_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade noormme-queue"):
        await SQLiteStore(path).open()


async def test_reopening_keeps_jobs_and_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    first = SQLiteStore(path)
    await first.open()
    job = new_job(payload={"keep": 1})
    await first.enqueue([job])
    await first.close()
    second = SQLiteStore(path)
    await second.open()
    got = await second.get(job.id)
    await second.close()
    assert got is not None and got.payload == {"keep": 1}


async def test_a_file_that_is_not_a_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match=str(path)):
        await SQLiteStore(path).open()
    assert path.read_bytes() == before


async def test_a_foreign_jobs_table_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE noormme_jobs (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorrupt, match="did not create"):
        await SQLiteStore(path).open()


async def test_the_queue_can_share_a_file_with_the_application(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("PRAGMA user_version = 42")
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    await store.open()
    await store.enqueue([new_job()])
    await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 42
    conn.close()


def test_url_parsing() -> None:
    assert sqlite_path_from_url("sqlite:///./data/queue.db") == Path("./data/queue.db")
    assert sqlite_path_from_url("sqlite:////var/q.db") == Path("/var/q.db")
    with pytest.raises(ConfigError, match="in-memory"):
        sqlite_path_from_url("sqlite:///:memory:")
    with pytest.raises(ConfigError):
        sqlite_path_from_url("mysql://x")


async def test_counts_kept_by_the_batch_statements_match_a_recount_of_the_rows(
    tmp_path: Path,
) -> None:
    # A batch of new jobs, the claim and completions count themselves (sqlite/tally.py);
    # one new job, a cancel, staging and the rest count by trigger. Both agree with the rows.
    store = SQLiteStore(tmp_path / "q.db")
    await store.open()
    await store.define_types([TypeDefinition("mail", "emails", TypeLimits(), "w", T0)])
    batch = [replace(new_job("mail"), queue=None) for _ in range(3)]  # the type's queue
    batch += [replace(new_job(run_at=T0 - 7.5 * i), queue=None) for i in range(4)]  # default
    batch += [new_job(queue="bulk"), new_job(run_at=T0 + 500)]  # its own queue; scheduled
    await store.enqueue(batch)
    await store.enqueue([replace(new_job("mail"), queue=None)])  # alone: by the trigger
    now = T0 + 30
    got = await store.claim(["mail", "t"], 7, now=now, lease_until=now + 60, worker_id="w")
    assert len(got.jobs) == 7
    done = [Completed(j.id, got.token, "null", attempt(1)) for j in got.jobs[:5]]
    assert await store.settle(done, now=T0 + 75) == [True] * 5
    assert await store.cancel(got.jobs[5].id, now=T0 + 80) is JobStatus.PROCESSING
    late = await store.claim(["t"], 5, now=T0 + 600, lease_until=T0 + 660, worker_id="w")
    assert len(late.jobs) == 2  # the scheduled one, staged, and the last of default
    await store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    kept = conn.execute("SELECT queue, type, status, n FROM noormme_counts WHERE n <> 0")
    recount = conn.execute(
        "SELECT queue, type, status, COUNT(*) FROM noormme_jobs GROUP BY queue, type, status"
    )
    assert sorted(kept) == sorted(recount)
    queues = conn.execute("SELECT type, queue, COUNT(*) FROM noormme_jobs GROUP BY type, queue")
    assert sorted(queues) == [("mail", "emails", 4), ("t", "bulk", 1), ("t", "default", 5)]
    minutes = conn.execute(
        "SELECT minute, queue, completed, failed, started, wait_sum, wait_max FROM noormme_minutes"
    )
    started = conn.execute(
        "SELECT CAST(started_at / 60 AS INTEGER) AS m, queue, COUNT(*),"
        " SUM(MAX(0.0, started_at - run_at)), MAX(MAX(0.0, started_at - run_at))"
        " FROM noormme_jobs WHERE started_at IS NOT NULL GROUP BY m, queue"
    )
    finished = conn.execute(
        "SELECT CAST(finished_at / 60 AS INTEGER) AS m, queue, COUNT(*) FROM noormme_jobs"
        " WHERE status = 'completed' GROUP BY m, queue"
    )
    expected: dict[tuple[int, str], list[float]] = {}
    for m, q, n, wait_sum, wait_max in started:
        expected.setdefault((m, q), [0, 0, 0, 0.0, 0.0])[2:] = [n, wait_sum, wait_max]
    for m, q, n in finished:
        expected.setdefault((m, q), [0, 0, 0, 0.0, 0.0])[0] = n
    assert {(m, q): [c, f, s, ws, wm] for m, q, c, f, s, ws, wm in minutes} == expected
    conn.close()
