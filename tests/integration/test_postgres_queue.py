"""The whole queue on PostgreSQL: QueueManager, real workers, other processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator

import pytest

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager, RetryPolicy

from ..conftest import wait_status, wait_until
from ..pg import fresh_schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def manager(url: str, **overrides: float) -> QueueManager:
    settings: dict[str, float] = {"interval": 30.0, "cleanup_interval": 0} | overrides
    config = QueueConfig(database_url=url, **settings)  # type: ignore[arg-type]
    return QueueManager(config, builtins=False)


async def test_jobs_run_end_to_end(pg_url: str) -> None:
    # A short poll: a retry's backoff is found by polling (as on SQLite), not by a wake-up.
    qm = manager(pg_url, interval=0.2)
    assert qm.get_status().database.startswith("postgresql://postgres@127.0.0.1:")
    calls = 0

    async def flaky(job: Job) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if job.payload["fail"] and job.attempt < 2:
            raise RuntimeError(f"attempt {job.attempt} failed")
        return {"n": job.payload["n"] * 2}

    qm.register_handler("double", flaky)
    await qm.start()
    try:
        fast = RetryPolicy(max_retries=2, base_delay=0.01)
        ok, retried = await qm.add_jobs(
            [
                ("double", {"n": 1, "fail": False}),
                ("double", {"n": 5, "fail": True}, {"retry_policy": fast}),
            ]
        )
        once = RetryPolicy(max_retries=0)
        doomed = await qm.add_job("double", {"n": 0, "fail": True}, retry_policy=once)
        await qm.add_job("nobody-handles-this", {})
        await wait_status(qm, ok, "completed")
        await wait_status(qm, retried, "completed")
        await wait_status(qm, doomed, "failed")
        done = await qm.get_job(retried)
        assert done is not None and done.result == {"n": 10} and done.attempts == 2
        assert [a.outcome.value for a in done.history] == ["failed", "completed"]
        assert done.history[0].error is not None and "attempt 1 failed" in done.history[0].error
        dead = await qm.get_job(doomed)
        assert dead is not None and dead.error is not None and "attempt 1" in dead.error
        await wait_until(lambda: qm.get_status().unhandled_types == ("nobody-handles-this",))
        stats = await qm.get_stats()
        assert (stats.completed, stats.failed, stats.pending) == (2, 1, 1)
        assert await qm.retry_job(doomed)  # wakes the worker: runs again at once
        await wait_until(lambda: calls == 5, what="the retried job to run")
        assert await qm.cancel_job(ok) is False  # already final
    finally:
        await qm.stop(timeout=5)


async def test_two_workers_on_one_database_run_each_job_once(pg_url: str) -> None:
    runs: Counter[int] = Counter()

    async def record(job: Job) -> None:
        runs[job.payload["i"]] += 1
        await asyncio.sleep(0)

    workers = [manager(pg_url, concurrency=8, batch_size=4) for _ in range(2)]
    for qm in workers:
        qm.register_handler("work", record)
        await qm.start()
    try:
        await workers[0].add_jobs([("work", {"i": i}) for i in range(300)])
        await wait_until(lambda: sum(runs.values()) >= 300, 30, "300 jobs to run")

        async def all_saved() -> bool:
            return (await workers[1].get_stats()).completed == 300

        await wait_until(all_saved, 10, "every outcome to be saved")
        assert runs == Counter(range(300))  # every job exactly once
    finally:
        for qm in workers:
            await qm.stop(timeout=5)


async def test_a_job_from_another_process_wakes_the_idle_worker_through_notify(
    pg_url: str,
) -> None:
    # QUEUE_INTERVAL is 60 s: only a NOTIFY can start the job within the deadline.
    qm = manager(pg_url, interval=60.0)
    started = asyncio.Event()
    qm.register_handler("ping", lambda job: started.set())
    await qm.start()
    try:
        producer = textwrap.dedent(f"""
            from noormme_queue import QueueConfig, QueueManager
            qm = QueueManager(QueueConfig(database_url={pg_url!r}), builtins=False)
            print(qm.sync.add_job("ping", {{}}))
            qm.sync.close()
        """)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", producer, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        await asyncio.wait_for(started.wait(), timeout=5)
        await wait_status(qm, out.decode().strip(), JobStatus.COMPLETED)
    finally:
        await qm.stop(timeout=5)
