"""The engine's observers: told of every attempt and expired lease; one that raises is
logged and never stops a job."""

from __future__ import annotations

import pytest

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.engine.observe import AttemptWatch, Observer
from noormme_queue.engine.outcomes import Settled

from ..conftest import wait_status


class Broken(Observer):
    def attempt(self, job: Job, now: float) -> AttemptWatch | None:
        raise RuntimeError("observer bug at start")


class Recorder(Observer):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def attempt(self, job: Job, now: float) -> AttemptWatch | None:
        self.seen.append(f"start {job.type}")
        return self

    def ended(self, record: Settled | None, now: float) -> None:
        self.seen.append(f"end {type(record.outcome).__name__ if record else None}")
        raise RuntimeError("observer bug at end")


async def test_an_observer_that_raises_is_logged_and_the_job_runs(
    config: QueueConfig, caplog: pytest.LogCaptureFixture
) -> None:
    qm = QueueManager(config)
    recorder, broken = Recorder(), Broken()
    qm.observers.add(broken)
    qm.observers.add(recorder)
    qm.observers.add(recorder)  # once only
    qm.register_handler("ok", lambda job: "done")
    await qm.start()
    try:
        first = await qm.add_job("ok")
        await wait_status(qm, first, JobStatus.COMPLETED)
        qm.observers.remove(recorder)
        second = await qm.add_job("ok")
        await wait_status(qm, second, JobStatus.COMPLETED)
    finally:
        await qm.stop(timeout=5)
    assert recorder.seen == ["start ok", "end Completed"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed at the start of job" in m for m in messages) == 2
    assert sum("failed at the end of an attempt" in m for m in messages) == 1
