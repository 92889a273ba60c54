"""The application of the queue and limit process tests (issue 11, point 7).

``python -m noormme_queue worker --app tests.reliability.limits_app:create_manager`` builds
a manager from the ``QUEUE_*`` environment with one handler registered under six job
types, each with its own queue or limits. The handler sleeps for
``payload["ms"]`` milliseconds (the work) and keeps its own record of when it ran: each
process appends to ``$STAMP_DIR/<pid>.log`` one line when a handler starts and one when it
ends, each written by one ``write(2)`` on an ``O_APPEND`` descriptor before the handler
goes on, so a line survives a SIGKILL right after it. Times are ``time.monotonic()``
(CLOCK_MONOTONIC, one clock for every process of the machine), so the tests can merge the
files of all processes and see what ran at the same time.

A start line also carries the wall clock then and the job's ``started_at`` (the ``now`` of
the claim that took it, as the store recorded it): how late the handler began after its
claim.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager

LIMITED = "limited"  # concurrency_limit=2
RATED = "rated"  # rate_limit="5/second"
KEYED = "keyed"  # concurrency_limit=2 per limit_key
KEYED_RATE = "keyed_rate"  # rate_limit="5/second" per limit_key
MAIL = "mail"  # queue "emails"
PLAIN = "plain"  # queue "default", no limits

CONCURRENCY_LIMIT = 2
RATE_COUNT = 5
RATE_WINDOW = 1.0
EMAILS = "emails"


class Stamper:
    """The handler of every type: stamp the start, work ``payload["ms"]``, stamp the end."""

    def __init__(self, directory: Path) -> None:
        self.pid = os.getpid()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._fd = os.open(directory / f"{self.pid}.log", flags, 0o644)

    def _line(self, *fields: object) -> None:
        os.write(self._fd, (" ".join(str(f) for f in fields) + "\n").encode())

    async def __call__(self, job: Job) -> dict[str, int]:
        mono, wall = time.monotonic(), time.time()
        assert job.started_at is not None
        claimed = job.started_at.timestamp()
        key = "-" if job.limit_key is None else job.limit_key
        self._line("start", job.id, job.type, key, f"{mono:.6f}", f"{wall:.6f}", f"{claimed:.6f}")
        payload = job.payload
        assert isinstance(payload, dict)
        await asyncio.sleep(float(payload.get("ms", 0)) / 1000)
        self._line("end", job.id, job.type, key, f"{time.monotonic():.6f}")
        return {"pid": self.pid}


def build(config: QueueConfig, stamps: Path | None) -> QueueManager:
    """A manager with the six types defined; ``stamps=None``: a process that
    only enqueues and watches (its handlers never run)."""
    qm = QueueManager(config, builtins=False)
    handler = Stamper(stamps) if stamps is not None else _never_runs
    rate = f"{RATE_COUNT}/second"
    qm.register_handler(LIMITED, handler, concurrency_limit=CONCURRENCY_LIMIT)
    qm.register_handler(RATED, handler, rate_limit=rate)
    qm.register_handler(KEYED, handler, concurrency_limit=CONCURRENCY_LIMIT)
    qm.register_handler(KEYED_RATE, handler, rate_limit=rate)
    qm.register_handler(MAIL, handler, queue=EMAILS)
    qm.register_handler(PLAIN, handler)
    return qm


async def _never_runs(job: Job) -> None:
    raise AssertionError(f"the watching process ran job {job.id}")


def create_manager() -> QueueManager:
    return build(QueueConfig.from_env(), Path(os.environ["STAMP_DIR"]))
