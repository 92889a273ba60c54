"""The demo that ``noormme-queue serve`` runs when no ``--app`` is given.

It registers a few small handlers and, when the database holds no jobs yet, enqueues a
handful of them (a restart does not add them again), so a fresh checkout shows every part of
the queue at work: immediate and delayed jobs,
priorities, a job that fails and is retried, one that fails for good (retry it from the
dashboard), a built-in e-mail (written to
``EMAIL_OUTBOX_DIR`` by the default file transport) and an in-memory queue.
"""

from __future__ import annotations

import asyncio
import logging
import random

from .core.config import QueueConfig
from .core.job import Job
from .manager import QueueManager

log = logging.getLogger("noormme_queue.demo")


async def resize_report(job: Job) -> dict[str, object]:
    await asyncio.sleep(random.uniform(0.05, 0.3))  # pretend to work
    log.info("report %s built for %s", job.payload["report"], job.payload["customer"])
    return {"pages": random.randint(2, 40)}


def flaky_sync(job: Job) -> str:
    if job.attempt < 2:
        raise ConnectionError(f"upstream unavailable (attempt {job.attempt})")
    log.info("flaky job %s succeeded on attempt %d", job.id, job.attempt)
    return "recovered"


def import_rows(job: Job) -> None:
    raise ValueError(f"row {job.payload['row']}: 'amount' is not a number")  # a dead letter


def create_demo_manager(config: QueueConfig | None = None) -> QueueManager:
    qm = QueueManager(config)
    qm.register_handler("report", resize_report)
    qm.register_handler("flaky", flaky_sync)
    qm.register_handler("import", import_rows)
    return qm


async def enqueue_demo_jobs(qm: QueueManager) -> list[str]:
    """Enqueue the demo's jobs into an empty database; with any job there, add nothing."""
    existing = (await qm.get_stats()).total
    if existing:
        log.info("demo: the database already holds %d jobs; adding none", existing)
        return []
    ids = await qm.add_jobs(
        [("report", {"report": f"monthly-{n}", "customer": f"acme-{n}"}) for n in range(5)]
    )
    ids.append(await qm.add_job("report", {"report": "urgent", "customer": "vip"}, priority=10))
    ids.append(await qm.add_job("report", {"report": "nightly", "customer": "all"}, delay=15))
    ids.append(await qm.add_job("flaky", {}, retry_policy={"max_retries": 3, "base_delay": 2.0}))
    ids.append(await qm.add_job("import", {"file": "orders.csv", "row": 17}, max_attempts=1))
    ids.append(
        await qm.add_job(
            "email",
            {
                "to": "user@example.com",
                "subject": "Welcome!",
                "html": "<h1>Welcome to our service!</h1>",
            },
        )
    )
    log.info("demo: enqueued %d jobs (%s ...)", len(ids), ids[0])
    return ids
