"""Every store keeps each job's timeline with it: events written by the statement of the
change they record, only for changes that applied, read back in order, deleted with the
job."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from noormme_queue.core.events import EventKind, JobEvent
from noormme_queue.core.job import Attempt, AttemptOutcome, JobStatus
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Completed, Failed, JobStore, Outcome, Released

from .conftest import T0, new_job
from .test_conformance import claim


def failure(n: int, worker: str = "w1") -> Attempt:
    at = datetime.fromtimestamp(T0, UTC)
    return Attempt(
        n,
        AttemptOutcome.FAILED,
        at,
        at,
        worker,
        "ValueError: bad <b>row</b>",
        "Traceback...",
        "builtins.ValueError",
    )


def done(n: int, worker: str = "w1") -> Attempt:
    at = datetime.fromtimestamp(T0, UTC)
    return Attempt(n, AttemptOutcome.COMPLETED, at, at, worker)


def steps(events: list[JobEvent]) -> list[tuple[str, str | None, str | None, int | None]]:
    return [(e.kind.value, e.worker, e.by, e.attempt) for e in events]


async def test_a_job_that_fails_once_then_completes_shows_each_step(store: JobStore) -> None:
    job = dataclasses.replace(new_job(), by="api")
    await store.enqueue([job])
    first = await claim(store, now=T0 + 1)
    failed = Failed(job.id, first.token, failure(1), retry_at=T0 + 5)
    assert await store.settle([failed], now=T0 + 2) == [True]
    second = await claim(store, now=T0 + 5)
    assert await store.settle([Completed(job.id, second.token, "1", done(2))], now=T0 + 6) == [True]
    events = await store.job_events(job.id, limit=100)
    assert steps(events) == [
        ("enqueued", None, "api", None),
        ("claimed", "w1", None, 1),
        ("failed", "w1", None, 1),
        ("retry_scheduled", None, None, 1),
        ("claimed", "w1", None, 2),
        ("completed", "w1", None, 2),
    ]
    assert [e.at.timestamp() for e in events] == [T0, T0 + 1, T0 + 2, T0 + 2, T0 + 5, T0 + 6]
    assert events[2].detail == {
        "error_type": "builtins.ValueError",
        "error": "ValueError: bad <b>row</b>",
    }
    assert events[3].detail == {"retry_at": T0 + 5}
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert all(isinstance(e.kind, EventKind) and e.job_id == job.id for e in events)


async def test_a_lost_compare_and_set_records_nothing(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    stale: list[Outcome] = [
        Completed(job.id, "stale", "1", done(1)),
        Failed(job.id, "stale", failure(1), retry_at=T0 + 1),
        Released(job.id, "stale", "w1"),
    ]
    assert await store.settle(stale, now=T0) == [False, False, False]
    assert await store.cancel(job.id, now=T0, by="cli") is JobStatus.PROCESSING
    assert await store.cancel(job.id, now=T0, by="cli") is None  # finished: nothing to do
    assert await store.settle([Completed(job.id, got.token, "1", done(1))], now=T0) == [False]
    kinds = [e.kind for e in await store.job_events(job.id, limit=100)]
    assert kinds == [EventKind.ENQUEUED, EventKind.CLAIMED, EventKind.CANCELLED]


async def test_a_lease_expiry_recovered_names_the_worker_that_lost_it(store: JobStore) -> None:
    job = new_job(max_attempts=2)
    await store.enqueue([job])
    await claim(store, lease=10.0)
    expired = await store.expired_leases(now=T0 + 11, limit=10)
    assert await store.settle([settle_expired(e, now=T0 + 11) for e in expired], now=T0 + 11)
    await claim(store, now=T0 + 11, lease=10.0)
    expired = await store.expired_leases(now=T0 + 22, limit=10)
    assert await store.settle([settle_expired(e, now=T0 + 22) for e in expired], now=T0 + 22)
    events = await store.job_events(job.id, limit=100)
    assert steps(events) == [
        ("enqueued", None, None, None),
        ("claimed", "w1", None, 1),
        ("lease_expired", "w1", "rescuer", 1),
        ("retry_scheduled", None, "rescuer", 1),
        ("claimed", "w1", None, 2),
        ("lease_expired", "w1", "rescuer", 2),  # out of attempts: failed for good
    ]
    assert (await store.get(job.id)).status is JobStatus.FAILED  # type: ignore[union-attr]


async def test_cancel_and_retry_record_who_asked(store: JobStore) -> None:
    job = new_job(run_at=T0 + 60)
    await store.enqueue([job])
    assert await store.cancel(job.id, now=T0 + 1, by="api") is JobStatus.PENDING
    assert await store.retry(job.id, now=T0 + 2, by="cli")
    assert not await store.retry(job.id, now=T0 + 3, by="cli")  # pending: nothing to retry
    events = await store.job_events(job.id, limit=100)
    assert steps(events) == [
        ("enqueued", None, None, None),
        ("cancelled", None, "api", None),
        ("retried", None, "cli", None),
    ]
    assert events[0].detail == {"run_at": T0 + 60}
    assert events[1].detail == {}


async def test_release_and_a_final_failure(store: JobStore) -> None:
    job = new_job(max_attempts=1)
    await store.enqueue([job])
    got = await claim(store)
    assert await store.settle([Released(job.id, got.token, "w1")], now=T0) == [True]
    again = await claim(store, now=T0 + 1)
    assert await store.settle([Failed(job.id, again.token, failure(1), None)], now=T0 + 1)
    assert steps(await store.job_events(job.id, limit=100)) == [
        ("enqueued", None, None, None),
        ("claimed", "w1", None, 1),
        ("released", "w1", None, None),
        ("claimed", "w1", None, 1),
        ("failed", "w1", None, 1),
    ]


async def test_an_enqueue_that_finds_its_unique_key_taken_records_nothing(
    store: JobStore,
) -> None:
    first = new_job(unique_key="k")
    assert await store.enqueue([first]) == [first.id]
    second = new_job(unique_key="k")
    assert await store.enqueue([second]) == [first.id]
    assert len(await store.job_events(first.id, limit=100)) == 1
    assert await store.job_events(second.id, limit=100) == []


async def test_events_come_oldest_first_up_to_the_limit(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    for n in range(3):
        await store.cancel(job.id, now=T0 + n, by=f"admin:{n}")
        await store.retry(job.id, now=T0 + n, by=f"admin:{n}")
    events = await store.job_events(job.id, limit=4)
    assert [(e.kind.value, e.by) for e in events] == [
        ("enqueued", None),
        ("cancelled", "admin:0"),
        ("retried", "admin:0"),
        ("cancelled", "admin:1"),
    ]
    assert await store.job_events("job_missing", limit=10) == []


async def test_purge_deletes_the_timelines_of_the_jobs_it_deletes(store: JobStore) -> None:
    old, kept = new_job(), new_job()
    await store.enqueue([old, kept])
    await store.cancel(old.id, now=T0, by="api")
    assert await store.purge(finished_before=T0 + 1, limit=10) == 1
    assert await store.job_events(old.id, limit=10) == []
    assert [e.kind for e in await store.job_events(kept.id, limit=10)] == [EventKind.ENQUEUED]
