"""Cancel, retry, listing, stats, status and cleanup through the manager."""

from __future__ import annotations

import asyncio

import pytest

from noormme_queue import InvalidJob, Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.core.clock import ManualClock
from noormme_queue.store.sqlite import SQLiteStore

from ..conftest import wait_status, wait_until
from ..store.commits import Commits


async def test_cancel_a_pending_job(qm: QueueManager) -> None:
    job_id = await qm.add_job("nobody", {})
    assert await qm.cancel_job(job_id) is True
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED and job.finished_at
    assert await qm.cancel_job(job_id) is False  # already final
    assert await qm.cancel_job("job_unknown") is False


async def test_cancel_a_running_job_cancels_its_handler(qm: QueueManager) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def long(job: Job) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    qm.register_handler("long", long)
    await qm.start()
    job_id = await qm.add_job("long", {})
    await asyncio.wait_for(started.wait(), 5)
    assert await qm.cancel_job(job_id) is True
    await asyncio.wait_for(stopped.wait(), 5)
    await wait_until(lambda: qm.get_status().in_flight == 0, what="the slot to free")
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED


async def test_retry_a_failed_job_runs_it_again_with_history_kept(qm: QueueManager) -> None:
    calls = 0

    def flaky(job: Job) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first call fails")
        return "second call works"

    qm.register_handler("flaky", flaky)
    await qm.start()
    job_id = await qm.add_job("flaky", {}, max_attempts=1)
    await wait_status(qm, job_id, "failed")
    assert await qm.retry_job(job_id) is True
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None and job.result == "second call works"
    # Attempts are numbered on across a manual retry (never "attempt 1" twice), and the
    # retry gave the job its one run again: attempt 2 of 2.
    assert (job.attempts, job.max_attempts) == (2, 2)
    assert [(a.attempt, a.error) for a in job.history] == [
        (1, "RuntimeError: first call fails"),
        (2, None),
    ]
    assert await qm.retry_job(job_id) is False  # completed jobs are not retried
    assert await qm.retry_job("job_unknown") is False


async def test_retry_a_cancelled_job(qm: QueueManager) -> None:
    job_id = await qm.add_job("later", {})
    await qm.cancel_job(job_id)
    assert await qm.retry_job(job_id) is True
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING


async def test_stats_count_every_status_in_one_query(qm: QueueManager) -> None:
    qm.register_handler("ok", lambda job: None)
    qm.register_handler("no", lambda job: 1 / 0)
    await qm.start()
    done = [await qm.add_job("ok", i) for i in range(3)]
    bad = await qm.add_job("no", {}, max_attempts=1)
    waiting = [await qm.add_job("idle", i) for i in range(2)]
    await qm.cancel_job(waiting[0])
    for job_id in done:
        await wait_status(qm, job_id, "completed")
    await wait_status(qm, bad, "failed")
    stats = await qm.get_stats()
    assert stats.to_dict() == {
        "total": 6,
        "pending": 1,
        "processing": 0,
        "completed": 3,
        "failed": 1,
        "cancelled": 1,
    }
    failed = await qm.get_jobs_by_status("failed", limit=10)
    assert [j.id for j in failed] == [bad]
    assert len(await qm.get_jobs_by_status(JobStatus.COMPLETED, limit=2)) == 2


async def test_stats_of_one_queue(qm: QueueManager) -> None:
    mail = [await qm.add_job("idle", i, queue="emails") for i in range(3)]
    await qm.add_job("idle", {})
    await qm.cancel_job(mail[0])
    emails = await qm.get_stats(queue="emails")
    assert (emails.total, emails.pending, emails.cancelled) == (3, 2, 1)
    assert (await qm.get_stats("default")).to_dict() == {
        "total": 1,
        "pending": 1,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert (await qm.get_stats()).total == 4
    assert (await qm.get_stats(queue="never-used")).total == 0  # no error: nothing there
    for bad in ("", "bad name!", 7):
        with pytest.raises(InvalidJob, match="queue name") as caught:
            await qm.get_stats(queue=bad)  # type: ignore[arg-type]
        assert caught.value.field == "queue"


async def test_get_status_describes_this_process(qm: QueueManager) -> None:
    qm.register_handler("a", lambda job: None)
    before = qm.get_status()
    assert before.started is False
    assert set(before.registered_types) == {
        "a",
        "email",
        "newsletter",
        "image",
        "thumbnail",
        "webhook",
    }
    assert "api-calls" in before.memory_queues
    await qm.start()
    status = qm.get_status()
    assert status.started is True and status.concurrency == qm.config.concurrency
    assert status.worker_id and status.database.startswith("sqlite:///")


async def test_cleanup_removes_old_completed_and_cancelled_only(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock)
    qm.register_handler("ok", lambda job: None)
    qm.register_handler("no", lambda job: 1 / 0)
    await qm.start()
    try:
        old_done = await qm.add_job("ok", {})
        old_failed = await qm.add_job("no", {}, max_attempts=1)
        old_cancelled = await qm.add_job("idle", {})
        await qm.cancel_job(old_cancelled)
        await wait_status(qm, old_done, "completed")
        await wait_status(qm, old_failed, "failed")
        clock.advance(8 * 86_400)
        new_done = await qm.add_job("ok", {})
        await wait_status(qm, new_done, "completed")
        assert await qm.cleanup(older_than_days=30) == 0
        assert await qm.cleanup() == 2  # QUEUE_CLEANUP_DAYS = 7
        assert await qm.get_job(old_done) is None and await qm.get_job(old_cancelled) is None
        assert await qm.get_job(old_failed) is not None  # the dead-letter record stays
        assert await qm.get_job(new_done) is not None
        assert await qm.cleanup() == 0
    finally:
        await qm.stop(timeout=5)


async def test_cleanup_deletes_in_small_batches(
    config: QueueConfig, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    qm = QueueManager(config, clock=clock)
    assert isinstance(qm.store, SQLiteStore)
    commits = Commits(qm.store, monkeypatch)
    try:
        ids = await qm.add_jobs([("bulk", i) for i in range(1_200)])
        for job_id in ids:
            await qm.cancel_job(job_id)
        assert await qm.cleanup(older_than_days=0) == 0  # finished now, not before now
        clock.advance(1)
        on_loop, on_thread = commits.on_loop, commits.on_thread
        assert await qm.cleanup(older_than_days=0) == 1_200
        # 500 rows per transaction (500, 500, 200), so claims from other workers slip in
        # between; on the writer thread, so the loop never waits for a batch. One more
        # forgets the per-minute throughput counts of the same age.
        assert (commits.on_loop - on_loop, commits.on_thread - on_thread) == (0, 4)
    finally:
        await qm.stop()


async def test_the_cleanup_loop_runs_every_interval(db_url: str) -> None:
    qm = QueueManager(
        QueueConfig(database_url=db_url, cleanup_interval=0.05, cleanup_days=0, interval=30)
    )
    qm.register_handler("ok", lambda job: None)
    await qm.start()
    try:
        job_id = await qm.add_job("ok", {})

        async def gone() -> bool:
            return await qm.get_job(job_id) is None

        await wait_until(gone, what="the cleanup loop to remove the finished job")
    finally:
        await qm.stop(timeout=5)
