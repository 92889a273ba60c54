"""Priorities, delays, scheduled runs and unique keys, seen through the manager."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status, wait_until


async def test_higher_priority_first_then_run_at_then_creation(db_url: str) -> None:
    qm = QueueManager(
        QueueConfig(database_url=db_url, concurrency=1, interval=30, cleanup_interval=0)
    )
    order: list[str] = []
    qm.register_handler("rec", lambda job: order.append(job.payload))
    now = datetime.now(UTC)
    await qm.add_job("rec", "low")
    await qm.add_job("rec", "urgent-2", priority=10)
    await qm.add_job("rec", "urgent-1", priority=10, run_at=now - timedelta(seconds=5))
    await qm.add_job("rec", "mid-a", priority=5)
    await qm.add_job("rec", "mid-b", priority=5)
    await qm.add_job("rec", "negative", priority=-3)
    await qm.start()
    try:
        await wait_until(lambda: len(order) == 6, what="all six jobs")
    finally:
        await qm.stop(timeout=5)
    assert order == ["urgent-1", "urgent-2", "mid-a", "mid-b", "low", "negative"]


async def test_delay_and_run_at_hold_a_job_until_due(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock)
    ran: list[str] = []
    qm.register_handler("later", lambda job: ran.append(job.payload))
    await qm.start()
    try:
        start = clock.now()
        delayed = await qm.add_job("later", "delayed", delay=30.0)
        scheduled = await qm.add_job(
            "later", "scheduled", run_at=datetime.fromtimestamp(start + 60, UTC)
        )
        job = await qm.get_job(delayed)
        assert job is not None and job.run_at == datetime.fromtimestamp(start + 30, UTC)
        clock.advance(29.999)
        barrier = await qm.add_job("later", "barrier")  # due now: runs, and nothing else does
        await wait_status(qm, barrier, "completed")
        assert ran == ["barrier"]
        ran.clear()
        clock.advance(0.001)
        qm.worker.wake()
        await wait_until(lambda: ran == ["delayed"], what="the delayed job")
        clock.advance(30)
        qm.worker.wake()
        await wait_until(lambda: ran == ["delayed", "scheduled"], what="the scheduled job")
        await wait_status(qm, scheduled, "completed")
    finally:
        await qm.stop(timeout=5)


async def test_a_delayed_job_runs_when_due_without_waiting_for_a_poll(db_url: str) -> None:
    # interval is 30 s; the worker sleeps exactly until the job is due.
    qm = QueueManager(QueueConfig(database_url=db_url, interval=30, cleanup_interval=0))
    done = asyncio.Event()
    qm.register_handler("soon", lambda job: done.set())
    await qm.start()
    try:
        await qm.add_job("soon", {}, delay=0.2)
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await qm.stop(timeout=5)


async def test_unique_key_makes_enqueue_idempotent_while_live(qm: QueueManager) -> None:
    gate = asyncio.Event()

    async def slow(job: Job) -> None:
        await gate.wait()

    first = await qm.add_job("dedupe", {"v": 1}, unique_key="invoice-9")
    assert await qm.add_job("dedupe", {"v": 2}, unique_key="invoice-9") == first
    qm.register_handler("dedupe", slow)
    await qm.start()
    await wait_until(lambda: qm.get_status().in_flight == 1, what="the job to start")
    assert await qm.add_job("dedupe", {"v": 3}, unique_key="invoice-9") == first
    gate.set()
    await wait_until(lambda: qm.get_status().in_flight == 0, what="the job to finish")
    second = await qm.add_job("dedupe", {"v": 4}, unique_key="invoice-9")
    assert second != first
    assert (await qm.get_stats()).total == 2
