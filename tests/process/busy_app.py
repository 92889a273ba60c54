"""A manager whose jobs keep a thread busy, for the second-signal tests.

``TEST_GATE_DIR`` is a directory the test watches: each job touches ``<name>.started``
there when its blocking part begins. The blocking parts are real work or a plain blocking
call — they are what a second Ctrl+C must not wait for.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from noormme_queue import Job, QueueManager

BLOCK_SECONDS = 30.0


def _started(name: str) -> None:
    (Path(os.environ["TEST_GATE_DIR"]) / f"{name}.started").touch()


def blocking_sync(job: Job) -> str:
    _started(job.payload["name"])
    time.sleep(BLOCK_SECONDS)  # a sync handler stuck in a blocking call
    return "finished"


class SlowHook:
    def process(self, job: Job) -> str:
        return "done"

    def on_complete(self, job: Job) -> None:
        _started(job.payload["name"])
        time.sleep(BLOCK_SECONDS)  # a completion hook stuck in a blocking call


def create_manager() -> QueueManager:
    qm = QueueManager()  # with the built-ins: the image handler does real Pillow work
    qm.register_handler("blocking", blocking_sync)
    qm.register_handler("hooked", SlowHook())
    return qm
