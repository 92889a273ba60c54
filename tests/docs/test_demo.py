"""The demo of ``noormme-queue serve`` (no ``--app``) fills only an empty database."""

from __future__ import annotations

from pathlib import Path

from noormme_queue import QueueConfig
from noormme_queue.demo import create_demo_manager, enqueue_demo_jobs


async def test_the_demo_enqueues_its_jobs_once(tmp_path: Path) -> None:
    config = QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0)
    first = create_demo_manager(config)
    try:
        ids = await enqueue_demo_jobs(first)
        assert len(ids) == 10
        assert (await first.get_stats()).total == 10
    finally:
        await first.stop(timeout=5)

    again = create_demo_manager(config)  # `serve` started a second time on the same file
    try:
        assert await enqueue_demo_jobs(again) == []
        assert (await again.get_stats()).total == 10
    finally:
        await again.stop(timeout=5)


async def test_the_demo_leaves_a_database_with_jobs_alone(tmp_path: Path) -> None:
    config = QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0)
    qm = create_demo_manager(config)
    try:
        await qm.add_job("mine", {"n": 1})
        assert await enqueue_demo_jobs(qm) == []
        assert (await qm.get_stats()).total == 1
    finally:
        await qm.stop(timeout=5)
