"""Retries with a pinned clock: backoff times, attempt history, hooks, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from noormme_queue import (
    Job,
    JobStatus,
    QueueConfig,
    QueueManager,
    RetryLater,
    RetryPolicy,
    UnrecoverableError,
)
from noormme_queue.core.clock import ManualClock
from noormme_queue.core.job import AttemptOutcome

from ..conftest import wait_status, wait_until
from ..pg import fresh_schema


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def next_attempt(qm: QueueManager, clock: ManualClock, job_id: str, attempts: int) -> Job:
    """Wait until the job has run ``attempts`` times and is settled."""

    async def settled() -> bool:
        job = await qm.get_job(job_id)
        return (
            job is not None
            and job.attempts == attempts
            and job.status != "processing"
            and (len(job.history) == attempts)
        )

    await wait_until(settled, what=f"attempt {attempts} of {job_id}")
    job = await qm.get_job(job_id)
    assert job is not None
    return job


async def test_backoff_follows_the_stored_policy_exactly(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock)
    qm.register_handler("flaky", lambda job: 1 / 0)
    qm.register_handler("barrier", lambda job: None)
    await qm.start()
    try:
        policy = RetryPolicy(
            max_retries=3, base_delay=2.0, max_delay=5.0, backoff_multiplier=2, jitter=0
        )
        job_id = await qm.add_job("flaky", {}, retry_policy=policy)
        expected_delays = [2.0, 4.0, 5.0]  # 2, 4, then capped at max_delay
        for attempt, delay in enumerate(expected_delays, start=1):
            job = await next_attempt(qm, clock, job_id, attempt)
            assert job.status is JobStatus.PENDING
            assert job.run_at == at(clock.now() + delay)
            clock.advance(delay - 0.001)
            # A job due now runs; a wrongly early retry would be claimed with it.
            barrier = await qm.add_job("barrier", {})
            await wait_status(qm, barrier, "completed")
            assert (await qm.get_job(job_id)).attempts == attempt  # type: ignore[union-attr]
            clock.advance(0.001)
            qm.worker.wake()
        job = await next_attempt(qm, clock, job_id, 4)
        assert job.status is JobStatus.FAILED  # max_retries=3 -> 4 runs
        assert job.max_attempts == 4
        assert [a.attempt for a in job.history] == [1, 2, 3, 4]
        assert all("ZeroDivisionError" in (a.error or "") for a in job.history)
        assert all("Traceback" in (a.traceback or "") for a in job.history)
    finally:
        await qm.stop(timeout=5)


async def test_default_is_three_runs_then_the_dead_letter_record(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock)
    failures: list[tuple[str, str]] = []

    class Fragile:
        def process(self, job: Job) -> None:
            raise ValueError(f"bad input on attempt {job.attempt}")

        async def on_failure(self, job: Job, error: BaseException) -> None:
            failures.append((job.status, str(error)))

    qm.register_handler("fragile", Fragile())
    await qm.start()
    try:
        job_id = await qm.add_job("fragile", {})
        for attempt in (1, 2):
            job = await next_attempt(qm, clock, job_id, attempt)
            assert job.status is JobStatus.PENDING
            clock.set(job.run_at.timestamp())
            qm.worker.wake()
        job = await next_attempt(qm, clock, job_id, 3)
        assert job.status is JobStatus.FAILED
        assert job.error == "ValueError: bad input on attempt 3"
        await wait_until(lambda: len(failures) == 1, what="on_failure")
        assert failures == [("failed", "bad input on attempt 3")]  # once, at the end
        assert [a.outcome for a in job.history] == [AttemptOutcome.FAILED] * 3
        assert job in await qm.get_jobs_by_status("failed")
    finally:
        await qm.stop(timeout=5)


async def test_on_complete_runs_after_success_and_a_raising_hook_changes_nothing(
    qm: QueueManager, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Job] = []

    class Handler:
        async def process(self, job: Job) -> str:
            return "ok"

        async def on_complete(self, job: Job) -> None:
            seen.append(job)
            raise RuntimeError("hook exploded")

    qm.register_handler("hooked", Handler())
    await qm.start()
    with caplog.at_level(logging.ERROR, logger="noormme_queue"):
        job_id = await qm.add_job("hooked", {})
        await wait_until(lambda: bool(seen), what="on_complete")
        await wait_until(lambda: "hook exploded" in caplog.text, what="the hook's error logged")
    assert seen[0].status is JobStatus.COMPLETED and seen[0].result == "ok"
    job = await qm.get_job(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and job.attempts == 1


async def test_retry_later_sets_the_next_run_and_unrecoverable_fails_at_once(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock)

    def rate_limited(job: Job) -> None:
        raise RetryLater(42.0, "429 Too Many Requests")

    def not_found(job: Job) -> None:
        raise UnrecoverableError("404 Not Found")

    qm.register_handler("limited", rate_limited)
    qm.register_handler("gone", not_found)
    await qm.start()
    try:
        limited = await qm.add_job("limited", {}, max_attempts=5)
        gone = await qm.add_job("gone", {}, max_attempts=5)
        job = await next_attempt(qm, clock, limited, 1)
        assert job.status is JobStatus.PENDING and job.run_at == at(clock.now() + 42.0)
        await wait_status(qm, gone, "failed")
        dead = await qm.get_job(gone)
        assert dead is not None and dead.attempts == 1 and "404" in (dead.error or "")
    finally:
        await qm.stop(timeout=5)


async def test_the_specification_camel_case_policy_is_understood(qm: QueueManager) -> None:
    job_id = await qm.add_job(
        "webhookish",
        {},
        retry_policy={
            "maxRetries": 5,
            "baseDelay": 2000,
            "maxDelay": 30000,
            "backoffMultiplier": 2,
        },
    )
    job = await qm.get_job(job_id)
    assert job is not None and job.max_attempts == 6
    assert job.retry_policy == RetryPolicy(
        max_retries=5, base_delay=2.0, max_delay=30.0, backoff_multiplier=2.0
    )


def test_backoff_arithmetic_and_jitter_bounds() -> None:
    import random

    policy = RetryPolicy(base_delay=1, max_delay=100, backoff_multiplier=3, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 3, 9, 27, 81]
    assert policy.delay(50) == 100  # capped, no overflow
    jittery = RetryPolicy(base_delay=10, max_delay=1000, jitter=0.2)
    rng = random.Random(7)
    samples = [jittery.delay(1, rng) for _ in range(500)]
    assert min(samples) >= 8 and max(samples) <= 12 and len(set(samples)) > 400


def fails_once(attempts: list[int], second: asyncio.Event) -> Callable[[Job], str]:
    """A handler whose first attempt asks for a retry in 50 ms; the second sets ``second``."""

    def once(job: Job) -> str:
        attempts.append(job.attempt)
        if job.attempt == 1:
            raise RetryLater(0.05, "try again shortly")
        second.set()
        return "ok"

    return once


async def test_a_retry_runs_when_due_not_at_the_next_poll(qm: QueueManager) -> None:
    # The poll interval is 30 s (conftest); the retry is due 50 ms after the failure.
    attempts: list[int] = []
    second = asyncio.Event()
    qm.register_handler("once", fails_once(attempts, second))
    await qm.start()
    job_id = await qm.add_job("once", {})
    await asyncio.wait_for(second.wait(), timeout=5)
    await wait_status(qm, job_id, "completed")
    assert attempts == [1, 2]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_retry_saved_with_the_next_claim_runs_when_due(
    backend: str, tmp_path: Path
) -> None:
    # One slot, one job a claim: each claim is full, so the failure's record is saved in the
    # same write as the next claim (on PostgreSQL one statement, whose claim cannot see the
    # retry it schedules); the worker still wakes for it, not at the 30 s poll.
    attempts: list[int] = []
    second = asyncio.Event()
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'q.db'}"
        if backend == "postgres":
            url = stack.enter_context(fresh_schema())
        config = QueueConfig(
            database_url=url, interval=30.0, cleanup_interval=0, concurrency=1, batch_size=1
        )
        qm = QueueManager(config, builtins=False)
        qm.register_handler("once", fails_once(attempts, second))
        try:
            await qm.start()
            job_id = await qm.add_job("once", {})
            await asyncio.wait_for(second.wait(), timeout=5)
            await wait_status(qm, job_id, "completed")
        finally:
            await qm.stop(timeout=5)
    assert attempts == [1, 2]


async def test_a_policy_without_a_count_takes_max_attempts(qm: QueueManager) -> None:
    job_id = await qm.add_job("t", {}, max_attempts=5, retry_policy={"baseDelay": 2000})
    job = await qm.get_job(job_id)
    assert job is not None and job.max_attempts == 5
    assert job.retry_policy == RetryPolicy(max_retries=4, base_delay=2.0)


async def test_the_kept_traceback_starts_in_the_handler(qm: QueueManager) -> None:
    def parse_row(job: Job) -> None:
        raise ValueError("row 17: 'amount' is not a number")

    qm.register_handler("import", parse_row)
    await qm.start()
    job_id = await qm.add_job("import", {}, max_attempts=1)
    await wait_status(qm, job_id, "failed")
    job = await qm.get_job(job_id)
    assert job is not None
    kept = job.history[0].traceback or ""
    assert "in parse_row" in kept and "ValueError: row 17" in kept
    assert "worker.py" not in kept and "threads.py" not in kept  # no queue plumbing
