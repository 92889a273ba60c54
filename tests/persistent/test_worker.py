"""The worker: concurrency, claiming only free slots and known types, wake-up, timeouts."""

from __future__ import annotations

import asyncio
import threading

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.core.job import AttemptOutcome

from ..conftest import wait_status, wait_until


async def test_runs_at_most_concurrency_jobs_at_once(db_url: str) -> None:
    qm = QueueManager(
        QueueConfig(
            database_url=db_url, concurrency=3, batch_size=10, interval=30, cleanup_interval=0
        )
    )
    release = asyncio.Event()
    running = 0
    peak = 0

    async def handler(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    qm.register_handler("slow", handler)
    ids = await qm.add_jobs([("slow", i) for i in range(10)])
    await qm.start()
    try:
        await wait_until(lambda: running == 3, what="three jobs running")
        stats = await qm.get_stats()
        assert stats.processing == 3 and stats.pending == 7  # claimed only free slots
        assert qm.get_status().in_flight == 3
        release.set()
        for job_id in ids:
            await wait_status(qm, job_id, "completed")
        assert peak == 3
    finally:
        await qm.stop(timeout=5)


async def test_an_enqueue_in_this_process_wakes_the_idle_worker(qm: QueueManager) -> None:
    # The poll interval is 30 s (see conftest): a prompt start proves the wake-up.
    qm.register_handler("ping", lambda job: None)
    await qm.start()
    first = await qm.add_job("ping", {})
    await wait_status(qm, first, "completed")  # the worker has claimed all there was: idle
    second = await qm.add_job("ping", {})
    await wait_status(qm, second, "completed", timeout=5)


async def test_the_result_is_stored_as_json(qm: QueueManager) -> None:
    async def handler(job: Job) -> dict[str, object]:
        return {"doubled": job.payload["n"] * 2, "attempt": job.attempt}

    qm.register_handler("double", handler)
    await qm.start()
    job_id = await qm.add_job("double", {"n": 21})
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None
    assert job.result == {"doubled": 42, "attempt": 1}
    assert job.started_at is not None and job.finished_at is not None
    assert job.history[-1].outcome is AttemptOutcome.COMPLETED


async def test_a_result_that_is_not_json_fails_the_attempt(qm: QueueManager) -> None:
    qm.register_handler("bad-result", lambda job: object())
    await qm.start()
    job_id = await qm.add_job("bad-result", {}, max_attempts=1)
    await wait_status(qm, job_id, "failed")
    job = await qm.get_job(job_id)
    assert job is not None and "not JSON-serialisable" in (job.error or "")


async def test_a_type_without_handler_waits_and_is_named_in_status(config: QueueConfig) -> None:
    qm = QueueManager(config, background=False)
    await qm.start()
    job_id = await qm.add_job("report", {"month": 5})
    assert "report" in qm.get_status().unhandled_types
    other = QueueManager(config)  # another process enqueues a type nobody handles
    await other.add_job("invoice", {})
    await other.stop()
    assert "invoice" not in qm.get_status().unhandled_types
    await qm.survey.run_once(qm.clock.now())  # the periodic survey sees both
    assert qm.get_status().unhandled_types == ("invoice", "report")
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING and job.attempts == 0
    done = asyncio.Event()
    qm.register_handler("report", lambda job: done.set())  # registering starts it
    await asyncio.wait_for(done.wait(), 5)
    await wait_status(qm, job_id, "completed")
    await qm.survey.run_once(qm.clock.now())
    assert qm.get_status().unhandled_types == ("invoice",)
    await qm.stop()


async def test_a_job_timeout_cancels_the_handler_and_counts_as_a_failed_attempt(
    qm: QueueManager,
) -> None:
    cancelled = asyncio.Event()

    async def hangs(job: Job) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    qm.register_handler("hangs", hangs)
    await qm.start()
    job_id = await qm.add_job("hangs", {}, timeout=0.05, max_attempts=1)
    await wait_status(qm, job_id, "failed")
    assert cancelled.is_set()
    job = await qm.get_job(job_id)
    assert job is not None
    assert job.history[0].outcome is AttemptOutcome.TIMED_OUT
    assert "JobTimeout" in (job.error or "") and "0.05" in (job.error or "")


async def test_sync_handlers_run_in_a_thread_and_never_block_the_loop(qm: QueueManager) -> None:
    # The sync handler blocks until the event loop sets a flag: if it ran on the loop,
    # the loop could never set it and the job would hang.
    gate = threading.Event()
    threads: list[str] = []

    def blocking(job: Job) -> str:
        threads.append(threading.current_thread().name)
        assert gate.wait(timeout=10)
        return "done"

    qm.register_handler("blocking", blocking)
    await qm.start()
    job_id = await qm.add_job("blocking", {})
    await wait_until(lambda: bool(threads), what="the sync handler to start")
    gate.set()
    await wait_status(qm, job_id, "completed")
    assert threads[0] != threading.main_thread().name


async def test_handler_objects_and_callables_are_both_accepted(qm: QueueManager) -> None:
    class Greeter:
        def process(self, job: Job) -> str:
            return f"hello {job.payload['name']}"

    qm.register_handler("greet", Greeter())
    await qm.start()
    job_id = await qm.add_job("greet", {"name": "ada"})
    await wait_status(qm, job_id, "completed")
    job = await qm.get_job(job_id)
    assert job is not None and job.result == "hello ada"


async def test_one_failing_job_does_not_disturb_the_others(qm: QueueManager) -> None:
    def maybe(job: Job) -> int:
        if job.payload % 3 == 0:
            raise RuntimeError("multiple of three")
        return int(job.payload)

    qm.register_handler("maybe", maybe)
    await qm.start()
    ids = await qm.add_jobs([("maybe", i, {"max_attempts": 1}) for i in range(1, 13)])
    for i, job_id in enumerate(ids, start=1):
        await wait_status(qm, job_id, "failed" if i % 3 == 0 else "completed")
    stats = await qm.get_stats()
    assert (stats.completed, stats.failed) == (8, 4)
