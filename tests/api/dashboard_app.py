"""The app the browser test serves (``--app tests.api.dashboard_app:create``).

``flaky`` fails its first run (of this process) and succeeds after; ``blocker`` holds the
only worker slot until the file named by ``DASHBOARD_TEST_RELEASE`` exists, so a retried job
can be seen pending before it runs; ``ok`` just succeeds. ``report`` lives in the
``reports`` queue with limits (the queues panel shows them), beside a type whose name is
markup (shown as text).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager, UnrecoverableError

HOSTILE_TYPE = '<img src=x onerror="window.__pwned = 4">'
_runs: Counter[str] = Counter()


def flaky(job: Job) -> dict[str, int]:
    _runs[job.id] += 1
    if _runs[job.id] == 1:
        raise UnrecoverableError("first run fails on purpose")
    return {"runs": _runs[job.id]}


async def blocker(job: Job) -> str:
    release = Path(os.environ["DASHBOARD_TEST_RELEASE"])
    deadline = time.monotonic() + 60
    while not release.exists():  # a condition with a deadline, polled
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the blocker")
        await asyncio.sleep(0.02)
    return "released"


def ok(job: Job) -> str:
    return "ok"


def create() -> QueueManager:
    qm = QueueManager(QueueConfig.from_env(), builtins=False)
    qm.register_handler("flaky", flaky)
    qm.register_handler("blocker", blocker)
    qm.register_handler("ok", ok)
    qm.register_handler("report", ok, queue="reports", concurrency_limit=2, rate_limit="30/minute")
    qm.register_handler(HOSTILE_TYPE, ok, queue="reports")
    return qm
