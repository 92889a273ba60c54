"""What a worker registers is stored: its queue and limits, seen by every process."""

from __future__ import annotations

import asyncio
import logging

import pytest

from noormme_queue import Job, QueueConfig, QueueManager, RateLimit

from ..conftest import wait_until


async def test_registered_types_are_stored_at_start(config: QueueConfig) -> None:
    worker = QueueManager(config, worker_id="worker-a", builtins=False)
    worker.register_handler("report", lambda job: None, queue="reports", concurrency_limit=2)
    await worker.start()
    try:
        web = QueueManager(config, builtins=False)  # enqueues only; registers nothing
        [stored] = await web.list_types()
        assert (stored.type, stored.queue, stored.limits.concurrency) == ("report", "reports", 2)
        assert stored.defined_by == "worker-a"
        [reports] = [q for q in await web.list_queues() if q.name == "reports"]
        assert reports.types == ("report",)
        await web.stop()
    finally:
        await worker.stop()


async def test_a_handler_registered_while_running_is_claimed_only_once_stored(
    config: QueueConfig,
) -> None:
    qm = QueueManager(config, builtins=False)
    await qm.start()
    try:
        ran = asyncio.Event()

        async def job(job: Job) -> None:
            ran.set()

        qm.register_handler("late", job, rate_limit="5/second")
        assert not qm.handlers["late"].ready  # not claimed before its limit is stored
        await wait_until(lambda: qm.handlers["late"].ready, what="the definition to be stored")
        [stored] = await qm.list_types()
        assert stored.limits.rate == RateLimit(5, 1.0)
        await qm.add_job("late", {})
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await qm.stop()


async def test_a_conflicting_definition_is_reported_naming_both(
    config: QueueConfig, caplog: pytest.LogCaptureFixture
) -> None:
    first = QueueManager(config, worker_id="old-deploy", builtins=False)
    first.register_handler("report", lambda job: None, concurrency_limit=2)
    await first.start()
    await first.stop()
    second = QueueManager(config, worker_id="new-deploy", builtins=False)
    second.register_handler("report", lambda job: None, concurrency_limit=5)
    with caplog.at_level(logging.WARNING, "noormme_queue"):
        await second.start()
    await second.stop()
    [warning] = [r.getMessage() for r in caplog.records if "was defined by" in r.getMessage()]
    assert "old-deploy" in warning and "new-deploy" in warning
    assert "concurrency_limit=2" in warning and "concurrency_limit=5" in warning
    [stored] = await QueueManager(config, builtins=False).list_types()
    assert stored.limits.concurrency == 5  # the newer one applies to every worker, unmixed


async def test_provider_limits_come_from_the_environment(db_url: str) -> None:
    config = QueueConfig.from_env(
        {
            "QUEUE_DATABASE_URL": db_url,
            "QUEUE_WEBHOOK_RATE_LIMIT": "100/minute",
            "QUEUE_EMAIL_RATE_LIMIT": "10/second",
            "QUEUE_CLEANUP_INTERVAL": "0",
        }
    )
    qm = QueueManager(config)
    await qm.start()
    try:
        stored = {d.type: d.limits.rate for d in await qm.list_types()}
        assert stored["webhook"] == RateLimit(100, 60.0)
        assert stored["email"] == stored["newsletter"] == RateLimit(10, 1.0)
        assert stored["image"] is None
    finally:
        await qm.stop()
