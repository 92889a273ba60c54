"""Shared fixtures: real SQLite files in temp dirs, a pinned clock, condition waits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from noormme_queue import QueueConfig, QueueManager

from .waiting import wait_for, wait_until

__all__ = ["wait_for", "wait_status", "wait_until"]
from noormme_queue.core.clock import ManualClock


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
def config(db_url: str) -> QueueConfig:
    # A long poll interval: anything that runs promptly was woken, not polled.
    return QueueConfig(database_url=db_url, interval=30.0, cleanup_interval=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
async def qm(config: QueueConfig) -> AsyncIterator[QueueManager]:
    manager = QueueManager(config)
    yield manager
    await manager.stop(timeout=5)


async def wait_status(qm: QueueManager, job_id: str, status: str, timeout: float = 10.0) -> None:
    async def reached() -> bool:
        job = await qm.get_job(job_id)
        return job is not None and job.status == status

    await wait_until(reached, timeout, f"job {job_id} to be {status}")
