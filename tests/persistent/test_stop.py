"""Graceful stop: nothing new claimed, in-flight jobs get the grace period, the rest go back."""

from __future__ import annotations

import asyncio
import threading

from noormme_queue import Job, JobStatus, QueueManager
from noormme_queue.core.threads import THREAD_NAME

from ..conftest import wait_status, wait_until


async def test_in_flight_jobs_finish_within_the_grace_period(qm: QueueManager) -> None:
    release = asyncio.Event()

    async def work(job: Job) -> str:
        await release.wait()
        return "finished"

    qm.register_handler("work", work)
    await qm.start()
    job_id = await qm.add_job("work", {})
    await wait_until(lambda: qm.get_status().in_flight == 1, what="the job to start")
    stopping = asyncio.create_task(qm.stop(timeout=10))
    await wait_until(lambda: qm.worker.stopping, what="the stop to begin")
    release.set()  # during the grace period: the job finishes, it is not abandoned
    report = await stopping
    assert report.released == 0
    job = await QueueManager(qm.config).get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and job.result == "finished"


async def test_unfinished_jobs_go_back_to_pending_without_spending_an_attempt(
    qm: QueueManager,
) -> None:
    async def forever(job: Job) -> None:
        await asyncio.Event().wait()

    qm.register_handler("forever", forever)
    await qm.start()
    ids = await qm.add_jobs([("forever", i) for i in range(3)])
    await wait_until(lambda: qm.get_status().in_flight == 3, what="three jobs running")
    report = await qm.stop(timeout=0.05)
    assert report.released == 3
    other = QueueManager(qm.config)
    for job_id in ids:
        job = await other.get_job(job_id)
        assert job is not None and job.status is JobStatus.PENDING and job.attempts == 0
        assert job.history == ()
    await other.stop()


async def test_nothing_new_is_claimed_after_stop_begins(qm: QueueManager) -> None:
    release = asyncio.Event()
    seen: list[int] = []

    async def work(job: Job) -> None:
        seen.append(job.payload)
        await release.wait()

    qm.register_handler("work", work)
    await qm.start()
    await qm.add_job("work", 1)
    await wait_until(lambda: seen == [1], what="the first job")
    stopping = asyncio.create_task(qm.stop(timeout=10))
    await asyncio.sleep(0)
    late = await QueueManager(qm.config).add_job("work", 2)
    release.set()
    await stopping
    assert seen == [1]
    job = await QueueManager(qm.config).get_job(late)
    assert job is not None and job.status is JobStatus.PENDING


async def test_stop_leaks_no_task_or_thread(qm: QueueManager) -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    qm.register_handler("ok", lambda job: None)
    await qm.start()
    await qm.add_jobs([("ok", i) for i in range(20)])
    await wait_until(lambda: qm.worker.processed == 20, what="twenty jobs")
    await qm.stop()
    assert asyncio.all_tasks() == tasks_before
    leftover = [
        t
        for t in set(threading.enumerate()) - threads_before
        # The default executor's and the shared sync pool's idle threads are process-wide
        # (core/threads.py); everything this manager started must be gone.
        if t.is_alive() and not t.name.startswith(("asyncio_", THREAD_NAME))
    ]
    assert leftover == []


async def test_start_and_stop_are_idempotent_and_restartable(qm: QueueManager) -> None:
    qm.register_handler("ok", lambda job: "ok")
    await qm.start()
    await qm.start()
    await qm.stop()
    await qm.stop()
    await qm.start()
    job_id = await qm.add_job("ok", {})
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None and job.result == "ok"
