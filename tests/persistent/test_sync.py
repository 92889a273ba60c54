"""The sync twin: the same calls from plain threads, with and without a running worker."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from noormme_queue import JobStatus, QueueConfig, QueueManager, get_queue_manager

from ..conftest import wait_status


def test_sync_calls_work_without_any_event_loop(config: QueueConfig) -> None:
    qm = QueueManager(config)
    try:
        job_id = qm.sync.add_job("email", {"to": "a@b.c"}, priority=3)
        job = qm.sync.get_job(job_id)
        assert job is not None and job.priority == 3 and job.status is JobStatus.PENDING
        assert qm.sync.get_stats().pending == 1
        assert qm.sync.get_stats(queue="default").pending == 1
        assert qm.sync.get_stats(queue="emails").total == 0
        assert qm.sync.cancel_job(job_id) is True
        assert qm.sync.retry_job(job_id) is True
        assert [j.id for j in qm.sync.get_jobs_by_status("pending")] == [job_id]
        assert qm.sync.add_jobs([("x", 1), ("x", 2)]) and qm.sync.get_stats().total == 3
        assert qm.sync.cleanup(0) == 0
    finally:
        qm.sync.close()


def test_a_sync_started_worker_runs_jobs_enqueued_from_many_threads(config: QueueConfig) -> None:
    qm = QueueManager(config)
    done = threading.Event()
    results: list[int] = []

    def handler(job: object) -> None:
        results.append(1)
        if len(results) == 40:
            done.set()

    qm.register_handler("count", handler)
    qm.sync.start()  # a WSGI process running its own worker in the background
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: qm.sync.add_job("count", {"i": i}), range(40)))
        assert len(set(ids)) == 40
        assert done.wait(timeout=10)
    finally:
        qm.sync.close()
    assert qm.loop is None


async def test_sync_calls_from_a_thread_while_the_async_worker_runs(qm: QueueManager) -> None:
    qm.register_handler("echo", lambda job: job.payload)
    await qm.start()

    def view() -> str:  # what a Django or Flask view does
        return qm.sync.add_job("echo", {"from": "view"})

    job_id = await asyncio.to_thread(view)
    await wait_status(qm, job_id, "completed")
    job = await asyncio.to_thread(qm.sync.get_job, job_id)
    assert job is not None and job.result == {"from": "view"}


async def test_sync_calls_inside_the_loop_are_refused_with_advice(qm: QueueManager) -> None:
    await qm.start()
    with pytest.raises(RuntimeError, match="await the async method"):
        qm.sync.get_stats()


def test_get_queue_manager_is_one_instance_per_process(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    import noormme_queue.manager as manager_module

    monkeypatch.setattr(manager_module, "_instance", None)
    monkeypatch.setenv("QUEUE_DATABASE_URL", db_url)
    monkeypatch.setenv("QUEUE_CONCURRENCY", "7")
    with ThreadPoolExecutor(4) as pool:
        managers = list(pool.map(lambda _: get_queue_manager(), range(8)))
    assert all(m is managers[0] for m in managers)
    assert managers[0].config.concurrency == 7
