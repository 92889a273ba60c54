"""``get_throughput``: finished jobs per bucket, dense, aligned, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from noormme_queue import InvalidJob, Job, QueueConfig, QueueManager
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status

T = 1_800_000_030.0  # 30 s into a minute


async def test_throughput_counts_finished_jobs_per_minute(config: QueueConfig) -> None:
    clock = ManualClock(T)
    qm = QueueManager(config, clock=clock, builtins=False)

    def work(job: Job) -> None:
        if job.payload["fail"]:
            raise RuntimeError("no")

    qm.register_handler("w", work)
    await qm.start()
    try:
        ok = [await qm.add_job("w", {"fail": False}) for _ in range(2)]
        bad = await qm.add_job("w", {"fail": True}, max_attempts=1)
        for job_id in ok:
            await wait_status(qm, job_id, "completed")
        await wait_status(qm, bad, "failed")

        points = await qm.get_throughput(window=300, bucket=60)
        assert [p.start for p in points] == [
            datetime.fromtimestamp(T - 30 - 60 * n, UTC) for n in (4, 3, 2, 1, 0)
        ]
        assert [(p.completed, p.failed) for p in points] == [(0, 0)] * 4 + [(2, 1)]

        clock.advance(120)  # two minutes on, the same jobs sit two buckets back
        points = await qm.get_throughput(window=300, bucket=60)
        assert [(p.completed, p.failed) for p in points] == [(0, 0)] * 2 + [(2, 1)] + [(0, 0)] * 2
    finally:
        await qm.stop(timeout=5)


async def test_throughput_rejects_a_silly_window(qm: QueueManager) -> None:
    with pytest.raises(InvalidJob):
        await qm.get_throughput(window=60, bucket=0)
    with pytest.raises(InvalidJob):
        await qm.get_throughput(window=86_400 * 31, bucket=1)
