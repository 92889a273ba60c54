"""The project's one QueueManager, built on first use from settings and QUEUE_* variables."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from django.conf import settings

from noormme_queue import Job, QueueConfig, QueueManager


def audit_signup(job: Job) -> dict[str, str]:
    # Your own job type beside the built-in ones ("email", "webhook", ...).
    return {"audited": job.payload["email"]}


@cache
def get_queue() -> QueueManager:
    config = replace(QueueConfig.from_env(), database_url=settings.QUEUE_DATABASE_URL)
    qm = QueueManager(config)
    qm.register_handler("audit-signup", audit_signup)
    return qm
