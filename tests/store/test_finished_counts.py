"""``finished_counts``: the throughput series behind the dashboard's chart."""

from __future__ import annotations

from pathlib import Path

from noormme_queue.core.job import AttemptOutcome
from noormme_queue.store import Completed, Failed, FinishedCount, JobStore
from noormme_queue.store.sqlite import SQLiteStore, sql

from .conftest import T0, new_job
from .plans import sqlite_plan
from .test_conformance import attempt, claim


async def _finish(store: JobStore, *, at: float, ok: bool) -> None:
    await store.enqueue([new_job(run_at=at)])
    got = await claim(store, limit=1, now=at)
    job = got.jobs[0]
    outcome: Completed | Failed
    if ok:
        outcome = Completed(job.id, got.token, "null", attempt(1))
    else:
        outcome = Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "boom"), None)
    assert await store.settle([outcome], now=at) == [True]


async def test_counts_completed_and_failed_per_bucket_since_a_time(store: JobStore) -> None:
    since = T0 - 300
    await _finish(store, at=since - 1, ok=True)  # before the window: not counted
    await _finish(store, at=since, ok=True)  # bucket 0 starts at `since`, inclusive
    await _finish(store, at=since + 59.9, ok=False)
    await _finish(store, at=since + 120, ok=True)
    await _finish(store, at=since + 130, ok=True)
    await _finish(store, at=since + 150, ok=False)
    cancelled = new_job()
    await store.enqueue([cancelled])
    await store.cancel(cancelled.id, now=since + 10)  # cancelled jobs are not throughput
    pending_retry = new_job(run_at=since)
    await store.enqueue([pending_retry])
    await store.settle(
        [Failed(pending_retry.id, (await claim(store, now=since)).token, attempt(1), T0)],
        now=since + 5,
    )  # failed but retrying: still pending, not counted

    assert await store.finished_counts(since=since, width=60.0) == [
        FinishedCount(0, 1, 1),
        FinishedCount(2, 2, 1),
    ]
    assert await store.finished_counts(since=T0, width=60.0) == []


async def test_completed_jobs_are_counted_from_the_finished_index(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    plan = sqlite_plan(path, sql.FINISHED_COUNTS, {"since": 0.0, "width": 60.0})
    assert "noormme_jobs_finished (finished_at>?)" in plan
