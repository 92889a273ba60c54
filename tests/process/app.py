"""A QueueManager factory for worker subprocesses started by these tests.

The database comes from QUEUE_DATABASE_URL; ``TEST_GATE_DIR`` is a directory the
test controls: the ``gated`` handler waits until a file named after its job
appears there, so a test decides when a job may finish without sleeping.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from noormme_queue import Job, QueueManager


async def gated(job: Job) -> str:
    gate = Path(os.environ["TEST_GATE_DIR"]) / str(job.payload["name"])
    (gate.parent / f"{job.payload['name']}.started").touch()
    while not gate.exists():
        await asyncio.sleep(0.01)
    return f"passed {job.payload['name']}"


def create_manager() -> QueueManager:
    qm = QueueManager(builtins=False)
    qm.register_handler("gated", gated)
    qm.register_handler("echo", lambda job: job.payload)
    return qm
