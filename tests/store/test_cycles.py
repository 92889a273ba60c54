"""A worker's cycle: its outcomes saved and its next jobs claimed as one write."""

from __future__ import annotations

from noormme_queue.core.job import AttemptOutcome, JobStatus
from noormme_queue.core.routing import TypeDefinition, TypeLimits
from noormme_queue.store import Claim, Completed, Failed, JobStore, Released

from .conftest import T0, new_job
from .test_conformance import attempt, claim


async def cycle(
    store: JobStore, outcomes: list[Completed | Failed | Released], limit: int, now: float = T0
) -> tuple[list[bool], Claim]:
    return await store.settle_and_claim(
        outcomes, ["t"], limit, now=now, lease_until=now + 30, worker_id="w1"
    )


async def test_a_cycle_saves_its_outcomes_and_claims_the_next_jobs(store: JobStore) -> None:
    jobs = [new_job(priority=9 - i) for i in range(5)]
    await store.enqueue(jobs)
    first = await claim(store, limit=2)
    done, dead = first.jobs
    outcomes: list[Completed | Failed | Released] = [
        Completed(done.id, first.token, '{"ok": 1}', attempt(1)),
        Failed(dead.id, first.token, attempt(1, AttemptOutcome.FAILED, "E: x"), retry_at=None),
    ]
    applied, got = await cycle(store, outcomes, limit=2, now=T0 + 1)
    assert applied == [True, True]
    assert [j.id for j in got.jobs] == [jobs[2].id, jobs[3].id]  # in claim order
    assert got.token != first.token and got.next_run_at is None  # full: look again at once
    saved = await store.get(done.id)
    assert saved is not None and saved.status is JobStatus.COMPLETED and saved.result == {"ok": 1}
    failed = await store.get(dead.id)
    assert failed is not None and failed.status is JobStatus.FAILED and failed.error == "E: x"
    stats = await store.stats()
    assert (stats.completed, stats.failed, stats.processing, stats.pending) == (1, 1, 2, 1)


async def test_a_cycle_is_compare_and_set_and_claims_all_the_same(store: JobStore) -> None:
    await store.enqueue([new_job(), new_job()])
    first = await claim(store, limit=1)
    (held,) = first.jobs
    stale = Completed(held.id, "not-the-token", "1", attempt(1))
    applied, got = await cycle(store, [stale], limit=5)
    assert applied == [False]
    assert len(got.jobs) == 1 and got.jobs[0].id != held.id
    assert got.next_run_at is None  # nothing scheduled
    kept = await store.get(held.id)
    assert kept is not None and kept.status is JobStatus.PROCESSING


async def test_a_job_a_cycle_puts_back_is_claimed_then_or_next(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    first = await claim(store)
    applied, got = await cycle(store, [Released(job.id, first.token, "w1")], limit=1)
    assert applied == [True]
    if not got.jobs:  # PostgreSQL: one statement, one snapshot; the next claim takes it
        got = await claim(store)
    assert [j.id for j in got.jobs] == [job.id] and got.jobs[0].attempts == 1


async def test_a_retry_the_cycle_schedules_is_claimed_when_due(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    first = await claim(store)
    retry = Failed(job.id, first.token, attempt(1, AttemptOutcome.FAILED, "E"), retry_at=T0 + 5)
    applied, got = await cycle(store, [retry], limit=1)
    assert applied == [True] and got.jobs == []
    assert (await claim(store, now=T0 + 4)).jobs == []
    assert (await claim(store, now=T0 + 5)).jobs[0].attempts == 2


async def test_a_cycle_of_a_limited_type_sees_the_slot_its_settle_frees(store: JobStore) -> None:
    definition = TypeDefinition("t", "default", TypeLimits(concurrency=1), "test", T0)
    assert await store.define_types([definition]) == []
    await store.enqueue([new_job() for _ in range(3)])
    first = await claim(store, limit=5)
    assert len(first.jobs) == 1  # the limit: one at a time
    (running,) = first.jobs
    applied, got = await cycle(store, [Completed(running.id, first.token, "1", attempt(1))], 5)
    assert applied == [True]
    assert len(got.jobs) == 1  # its slot is free again, and the limit still holds
    assert (await store.stats()).processing == 1
