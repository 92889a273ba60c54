"""The manager ``serve --app tests.observability.serve_app:create`` runs in the metrics
test: ``ok`` completes, ``flaky`` fails its first attempt (then runs again), ``broken``
always fails."""

from __future__ import annotations

from noormme_queue import Job, QueueConfig, QueueManager


def ok(job: Job) -> str:
    return "ok"


def flaky(job: Job) -> str:
    if job.attempts == 1:
        raise RuntimeError("first attempt fails")
    return "second attempt"


def broken(job: Job) -> None:
    raise ValueError("always")


def create() -> QueueManager:
    qm = QueueManager(QueueConfig.from_env(), builtins=False)
    qm.register_handler("ok", ok, queue="emails")
    qm.register_handler("flaky", flaky)
    qm.register_handler("broken", broken)
    return qm
