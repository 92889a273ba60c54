"""QueueManager factories for the CLI and worker subprocesses started by these tests.

The database comes from QUEUE_DATABASE_URL (``create_app_manager``: from
TEST_APP_DATABASE_URL, the app's own database whatever QUEUE_DATABASE_URL says);
``TEST_GATE_DIR`` is a directory the test controls: the ``gated`` handler waits until a
file named after its job appears there, so a test decides when a job may finish without
sleeping.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.handlers.payload import PayloadModel


async def gated(job: Job) -> str:
    gate = Path(os.environ["TEST_GATE_DIR"]) / str(job.payload["name"])
    (gate.parent / f"{job.payload['name']}.started").touch()
    while not gate.exists():
        await asyncio.sleep(0.01)
    return f"passed {job.payload['name']}"


def explode(job: Job) -> None:
    raise RuntimeError(job.payload["message"])


class Greeting(PayloadModel):
    name: str


class Greeter:
    """A custom handler with a payload model (``schema`` shows it)."""

    payload_model = Greeting

    def process(self, job: Job) -> str:
        return f"hello {job.payload['name']}"


class BrokenHook:
    """Succeeds, then its completion hook raises: the worker logs that with a traceback."""

    def process(self, job: Job) -> str:
        return "done"

    def on_complete(self, job: Job) -> None:
        raise RuntimeError(f"the completion hook of {job.id} broke")


def create_manager() -> QueueManager:
    qm = QueueManager(builtins=False)
    qm.register_handler("gated", gated)
    qm.register_handler("echo", lambda job: job.payload)
    qm.register_handler("explode", explode)
    qm.register_handler("greet", Greeter())
    qm.register_handler("broken-hook", BrokenHook())
    return qm


def create_app_manager() -> QueueManager:
    config = replace(QueueConfig.from_env(), database_url=os.environ["TEST_APP_DATABASE_URL"])
    qm = QueueManager(config, builtins=False)
    qm.register_handler("echo", lambda job: job.payload)
    qm.register_handler("greet", Greeter())
    return qm
