"""Sync handlers run in threads, which cannot be interrupted: a job is never run twice at once."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.core.job import AttemptOutcome

from ..conftest import wait_status, wait_until


def _logged(caplog: pytest.LogCaptureFixture, words: str) -> Callable[[], bool]:
    return lambda: any(words in r.getMessage() for r in caplog.records)


async def _barrier(qm: QueueManager) -> None:
    """Run one more job through the worker: every claim it would have made before, it made."""
    job_id = await qm.add_job("barrier", {})
    await wait_status(qm, job_id, "completed")


async def test_a_timed_out_thread_finishes_before_the_retry_starts(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    qm = QueueManager(QueueConfig(database_url=db_url, interval=30, cleanup_interval=0))
    qm.register_handler("barrier", lambda job: None)
    gate = threading.Event()
    lock = threading.Lock()
    running = 0
    overlapped = False
    calls: list[int] = []  # the attempt of each call that ran

    def slow_once(job: Job) -> str:
        nonlocal running, overlapped
        with lock:
            running += 1
            overlapped = overlapped or running > 1
            calls.append(job.attempt)
            first = len(calls) == 1
        try:
            if first:
                gate.wait(timeout=10)  # much longer than the job's timeout
            return "done"
        finally:
            with lock:
                running -= 1

    qm.register_handler("slow", slow_once)
    await qm.start()
    try:
        job_id = await qm.add_job(
            "slow", {}, timeout=0.2, retry_policy={"max_retries": 5, "base_delay": 0, "jitter": 0}
        )
        await wait_until(lambda: len(calls) == 1, what="the first call")
        await wait_until(_logged(caplog, "ran past its timeout"), what="the timeout")
        await _barrier(qm)  # a wrongly early retry would have been claimed by now
        assert len(calls) == 1  # the retry waits for the thread that ran past its timeout
        gate.set()
        await wait_status(qm, job_id, "completed")
    finally:
        await qm.stop()
    # On a loaded machine an attempt can time out before its thread even starts (it then
    # never calls the handler), or a quick one can still pass 0.2 s: more attempts, in
    # order, and never two calls at once.
    assert not overlapped and calls == sorted(set(calls)) and len(calls) >= 2
    job = await QueueManager(qm.config).get_job(job_id)
    assert job is not None
    outcomes = [a.outcome for a in job.history]
    assert outcomes[-1] is AttemptOutcome.COMPLETED and len(outcomes) == calls[-1]
    assert set(outcomes[:-1]) == {AttemptOutcome.TIMED_OUT}


async def test_a_thread_that_finishes_after_the_grace_period_keeps_its_result(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    qm = QueueManager(QueueConfig(database_url=db_url, interval=30, cleanup_interval=0))
    started, gate = threading.Event(), threading.Event()
    runs = 0

    def report(job: Job) -> str:
        nonlocal runs
        runs += 1
        started.set()
        gate.wait(timeout=10)
        return "report written"

    qm.register_handler("report", report)
    await qm.start()
    job_id = await qm.add_job("report", {})
    await asyncio.to_thread(started.wait, 10)
    caplog.set_level(logging.INFO, "noormme_queue.worker")
    stopping = asyncio.create_task(qm.stop(timeout=0.05))
    # The grace period is over and the thread is still at work:
    await wait_until(_logged(caplog, "is being stopped while its sync handler runs"))
    assert not stopping.done()
    gate.set()
    report_ = await stopping
    assert report_.released == 0  # its thread finished after the grace period: kept
    job = await QueueManager(qm.config).get_job(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED and job.result == "report written" and runs == 1


async def test_a_forced_stop_gives_a_stuck_thread_s_job_back(db_url: str) -> None:
    qm = QueueManager(QueueConfig(database_url=db_url, interval=30, cleanup_interval=0))
    started, gate = threading.Event(), threading.Event()

    def stuck(job: Job) -> None:
        started.set()
        gate.wait(timeout=30)

    qm.register_handler("stuck", stuck)
    await qm.start()
    try:
        job_id = await qm.add_job("stuck", {})
        await asyncio.to_thread(started.wait, 10)
        stopping = asyncio.create_task(qm.stop(timeout=30))
        await wait_until(lambda: qm.worker.stopping, what="the stop to begin")
        qm.force_stop()  # the second SIGTERM
        report = await asyncio.wait_for(stopping, 10)
        assert report.released == 1
        job = await QueueManager(qm.config).get_job(job_id)
        assert job is not None and job.status is JobStatus.PENDING and job.attempts == 0
    finally:
        gate.set()
