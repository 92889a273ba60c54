"""The project's one QueueManager: the TASKS backend's, on the project's database (see
settings.TASKS), with this project's own job type beside the built-in ones."""

from __future__ import annotations

from functools import cache

from noormme_queue import Job, QueueManager
from noormme_queue.contrib.django import NoormmeTaskBackend
from noormme_queue.contrib.django.compat import task_backends


def audit_signup(job: Job) -> dict[str, str]:
    # Your own job type beside the built-in ones ("email", "webhook", ...).
    return {"audited": job.payload["email"]}


@cache
def get_queue() -> QueueManager:
    backend = task_backends["default"]
    assert isinstance(backend, NoormmeTaskBackend)
    qm = backend.manager
    qm.register_handler("audit-signup", audit_signup)
    return qm
