"""Behaviour every JobStore must have: transitions are compare-and-set, nothing is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from noormme_queue.core.job import Attempt, AttemptOutcome, JobStatus
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Claim, Completed, Failed, JobStore, Released

from .conftest import T0, new_job


def attempt(
    n: int, outcome: AttemptOutcome = AttemptOutcome.COMPLETED, error: str | None = None
) -> Attempt:
    at = datetime.fromtimestamp(T0, UTC)
    return Attempt(n, outcome, at, at, "w1", error, "Traceback..." if error else None)


async def claim(
    store: JobStore,
    limit: int = 10,
    now: float = T0,
    types: list[str] | None = None,
    lease: float = 30.0,
) -> Claim:
    return await store.claim(
        types or ["t"], limit, now=now, lease_until=now + lease, worker_id="w1"
    )


async def test_enqueue_then_get_round_trips(store: JobStore) -> None:
    job = new_job(payload={"to": "a@b.c", "n": [1, 2]}, priority=4)
    assert await store.enqueue([job]) == [job.id]
    got = await store.get(job.id)
    assert got is not None
    assert got.payload == {"to": "a@b.c", "n": [1, 2]}
    assert got.status is JobStatus.PENDING
    assert got.priority == 4 and got.attempts == 0 and got.max_attempts == 3
    assert got.run_at == datetime.fromtimestamp(T0, UTC)
    assert await store.get("job_missing") is None


async def test_claim_orders_by_priority_then_run_at_then_creation(store: JobStore) -> None:
    low = new_job(priority=0, run_at=T0 - 5)
    high_late = new_job(priority=9, run_at=T0 - 1)
    high_early = new_job(priority=9, run_at=T0 - 2)
    first_same, second_same = new_job(priority=1), new_job(priority=1)
    await store.enqueue([low, high_late, high_early, first_same, second_same])
    got = await claim(store, limit=10)
    assert [j.id for j in got.jobs] == [
        high_early.id,
        high_late.id,
        first_same.id,
        second_same.id,
        low.id,
    ]
    assert all(j.status is JobStatus.PROCESSING and j.attempts == 1 for j in got.jobs)


async def test_claim_takes_only_due_jobs_of_given_types_up_to_the_limit(store: JobStore) -> None:
    due = [new_job() for _ in range(3)]
    later = new_job(run_at=T0 + 60)
    other = new_job(type="other")
    await store.enqueue([*due, later, other])
    first = await claim(store, limit=2)
    assert len(first.jobs) == 2
    second = await claim(store, limit=5)
    assert [j.id for j in second.jobs] == [due[2].id]
    assert second.next_run_at == T0 + 60  # the worker sleeps until then
    assert (await claim(store, limit=5, now=T0 + 60)).jobs[0].id == later.id
    assert (await store.get(other.id)).status is JobStatus.PENDING  # type: ignore[union-attr]


async def test_a_job_is_claimed_once(store: JobStore) -> None:
    await store.enqueue([new_job() for _ in range(20)])
    a = await claim(store, limit=15)
    b = await claim(store, limit=15)
    ids_a, ids_b = {j.id for j in a.jobs}, {j.id for j in b.jobs}
    assert len(ids_a) == 15 and len(ids_b) == 5 and not ids_a & ids_b


async def test_settle_is_compare_and_set_on_the_claim_token(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    stale = Completed(job.id, "not-the-token", "1", attempt(1))
    assert await store.settle([stale], now=T0) == [False]
    assert (await store.get(job.id)).status is JobStatus.PROCESSING  # type: ignore[union-attr]
    good = Completed(job.id, got.token, '{"ok": true}', attempt(1))
    assert await store.settle([good], now=T0 + 1) == [True]
    done = await store.get(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.result == {"ok": True}
    assert done.finished_at == datetime.fromtimestamp(T0 + 1, UTC)
    assert [a.outcome for a in done.history] == [AttemptOutcome.COMPLETED]
    assert await store.settle([good], now=T0 + 2) == [False]  # no second settle


async def test_a_cancelled_running_job_cannot_be_overwritten(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    assert await store.cancel(job.id, now=T0) is JobStatus.PROCESSING
    assert await store.extend_leases([(job.id, got.token)], T0 + 60) == {job.id}
    assert await store.settle([Completed(job.id, got.token, "1", attempt(1))], now=T0) == [False]
    assert (await store.get(job.id)).status is JobStatus.CANCELLED  # type: ignore[union-attr]


async def test_failed_with_retry_goes_back_to_pending_at_retry_time(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    failure = Failed(
        job.id, got.token, attempt(1, AttemptOutcome.FAILED, "ValueError: x"), retry_at=T0 + 4
    )
    assert await store.settle([failure], now=T0) == [True]
    again = await store.get(job.id)
    assert again is not None and again.status is JobStatus.PENDING
    assert again.run_at == datetime.fromtimestamp(T0 + 4, UTC)
    assert again.error == "ValueError: x"
    assert again.history[0].traceback == "Traceback..."
    assert (await claim(store, now=T0 + 3)).jobs == []
    assert (await claim(store, now=T0 + 4)).jobs[0].attempts == 2


async def test_failed_for_good_is_kept_as_the_dead_letter_record(store: JobStore) -> None:
    job = new_job(max_attempts=1)
    await store.enqueue([job])
    got = await claim(store)
    failure = Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "boom"), None)
    assert await store.settle([failure], now=T0) == [True]
    dead = await store.get(job.id)
    assert dead is not None and dead.status is JobStatus.FAILED and dead.error == "boom"
    assert await store.purge(finished_before=T0 + 10**9, limit=100) == 0  # failed jobs stay


async def test_released_jobs_do_not_spend_an_attempt(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    assert await store.settle([Released(job.id, got.token)], now=T0) == [True]
    back = await store.get(job.id)
    assert back is not None and back.status is JobStatus.PENDING and back.attempts == 0


async def test_expired_leases_are_found_and_settled_like_attempts(store: JobStore) -> None:
    retryable, last_try = new_job(max_attempts=3), new_job(max_attempts=1)
    await store.enqueue([retryable, last_try])
    got = await claim(store, lease=10)
    assert await store.expired_leases(now=T0 + 5, limit=10) == []  # leases still hold
    held = await store.extend_leases([(j.id, got.token) for j in got.jobs], T0 + 20)
    assert held == set()
    assert await store.expired_leases(now=T0 + 15, limit=10) == []  # extended
    assert len(await store.expired_leases(now=T0 + 21, limit=1)) == 1
    expired = await store.expired_leases(now=T0 + 21, limit=10)
    assert {e.job.id for e in expired} == {retryable.id, last_try.id}
    assert {e.token for e in expired} == {got.token}
    outcomes = [settle_expired(e, now=T0 + 21) for e in expired]
    assert await store.settle(outcomes, now=T0 + 21) == [True, True]
    again = await store.get(retryable.id)
    assert again is not None and again.status is JobStatus.PENDING
    assert again.attempts == 1 and again.run_at.timestamp() == T0 + 21  # the lost run counts
    dead = await store.get(last_try.id)
    assert dead is not None and dead.status is JobStatus.FAILED
    assert "lease expired" in (dead.error or "")
    assert dead.history[-1].outcome is AttemptOutcome.LEASE_EXPIRED
    assert await store.expired_leases(now=T0 + 100, limit=10) == []
    # the stale worker can no longer settle either job, nor can a second rescuer
    late = [Completed(j.id, got.token, "1", attempt(1)) for j in got.jobs]
    assert await store.settle(late, now=T0 + 22) == [False, False]
    assert await store.settle(outcomes, now=T0 + 22) == [False, False]


async def test_cancel_and_retry_transitions(store: JobStore) -> None:
    pending, done = new_job(), new_job()
    await store.enqueue([pending, done])
    assert await store.cancel("job_missing", now=T0) is None
    assert await store.cancel(pending.id, now=T0) is JobStatus.PENDING
    assert await store.cancel(pending.id, now=T0) is None  # already final
    assert await store.retry(pending.id, now=T0 + 1) is True
    again = await store.get(pending.id)
    assert again is not None and again.status is JobStatus.PENDING and again.attempts == 0
    got = await claim(store, limit=10)
    target = next(j for j in got.jobs if j.id == done.id)
    await store.settle([Completed(done.id, got.token, "1", attempt(1))], now=T0)
    assert target.id == done.id
    assert await store.retry(done.id, now=T0) is False  # completed jobs are not retried
    assert await store.retry("job_missing", now=T0) is False


async def test_retry_of_a_failed_job_restarts_its_budget_and_keeps_history(store: JobStore) -> None:
    job = new_job(max_attempts=1)
    await store.enqueue([job])
    got = await claim(store)
    await store.settle(
        [Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), None)], now=T0
    )
    assert await store.retry(job.id, now=T0 + 5)
    again = await store.get(job.id)
    assert again is not None
    # The attempts go on counting (the next run is attempt 2); the budget starts again.
    assert (again.status, again.attempts, again.error) == (JobStatus.PENDING, 1, None)
    assert again.max_attempts == 2
    assert len(again.history) == 1 and again.history[0].error == "e"
    assert again.run_at == datetime.fromtimestamp(T0 + 5, UTC)
    rerun = await claim(store, now=T0 + 5)
    assert [j.attempts for j in rerun.jobs] == [2]
    await store.settle(
        [Failed(job.id, rerun.token, attempt(2, AttemptOutcome.FAILED, "e2"), None)], now=T0 + 6
    )
    assert await store.retry(job.id, now=T0 + 7)
    third = await store.get(job.id)
    assert third is not None and (third.attempts, third.max_attempts) == (2, 3)


async def test_unique_key_returns_the_live_job(store: JobStore) -> None:
    first = new_job(unique_key="order-7")
    dup = new_job(unique_key="order-7")
    assert await store.enqueue([first]) == [first.id]
    assert await store.enqueue([dup]) == [first.id]
    got = await claim(store)
    assert await store.enqueue([new_job(unique_key="order-7")]) == [first.id]  # processing
    await store.settle([Completed(first.id, got.token, "1", attempt(1))], now=T0)
    fresh = new_job(unique_key="order-7")
    assert await store.enqueue([fresh]) == [fresh.id]  # the first one finished
    assert (await store.stats()).total == 2


async def test_purge_removes_only_old_completed_and_cancelled(store: JobStore) -> None:
    jobs = [new_job() for _ in range(4)]
    await store.enqueue(jobs)
    got = await claim(store, limit=2)
    await store.settle([Completed(j.id, got.token, "1", attempt(1)) for j in got.jobs], now=T0)
    await store.cancel(jobs[2].id, now=T0 + 100)
    assert await store.purge(finished_before=T0, limit=10) == 0  # strictly older
    assert await store.purge(finished_before=T0 + 50, limit=1) == 1
    assert await store.purge(finished_before=T0 + 50, limit=10) == 1
    assert await store.purge(finished_before=T0 + 101, limit=10) == 1
    stats = await store.stats()
    assert (stats.total, stats.pending) == (1, 1)


async def test_stats_and_pending_types(store: JobStore) -> None:
    await store.enqueue([new_job("a"), new_job("b"), new_job("b"), new_job("c")])
    await store.claim(["c"], 1, now=T0, lease_until=T0 + 30, worker_id="w")
    stats = await store.stats()
    assert (stats.total, stats.pending, stats.processing) == (4, 3, 1)
    assert (stats.completed, stats.failed, stats.cancelled) == (0, 0, 0)
    assert await store.pending_types() == ["a", "b"]


async def test_list_jobs_filters_and_pages_newest_first(store: JobStore) -> None:
    jobs = [new_job("a" if i % 2 else "b") for i in range(7)]
    await store.enqueue(jobs)
    newest_first = [j.id for j in reversed(jobs)]
    page1 = await store.list_jobs(limit=3)
    page2 = await store.list_jobs(limit=3, before=page1[-1].id)
    assert [j.id for j in page1 + page2] == newest_first[:6]
    only_a = await store.list_jobs(type="a", status=JobStatus.PENDING)
    assert [j.id for j in only_a] == [j.id for j in reversed(jobs) if j.type == "a"]
    assert await store.list_jobs(status=JobStatus.FAILED) == []


async def test_progress_is_saved_only_by_the_holder(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    assert await store.save_progress(job.id, got.token, '{"sent": 3}') is True
    assert await store.save_progress(job.id, "stale", '{"sent": 9}') is False
    saved = await store.get(job.id)
    assert saved is not None and saved.progress == {"sent": 3}


async def test_unique_key_within_one_batch_keeps_the_first(store: JobStore) -> None:
    first, dup, other = new_job(unique_key="k"), new_job(unique_key="k"), new_job()
    assert await store.enqueue([first, dup, other]) == [first.id, first.id, other.id]
    assert (await store.stats()).total == 2


async def test_a_retry_is_refused_while_another_live_job_holds_the_unique_key(
    store: JobStore,
) -> None:
    old = new_job(unique_key="k", max_attempts=1)
    await store.enqueue([old])
    got = await claim(store)
    await store.settle(
        [Failed(old.id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), None)], now=T0
    )
    live = new_job(unique_key="k")
    assert await store.enqueue([live]) == [live.id]
    assert await store.retry(old.id, now=T0) is False
    assert (await store.get(old.id)).status is JobStatus.FAILED  # type: ignore[union-attr]


async def test_jobs_read_back_the_same_on_every_backend(store: JobStore) -> None:
    job = new_job(payload={"z": 1, "a": [1.5, None, "é"]}, priority=-3, run_at=T0 + 0.123456)
    await store.enqueue([job])
    got = await claim(store, now=T0 + 1)
    failure = Failed(
        job.id, got.token, attempt(1, AttemptOutcome.FAILED, "ValueError: x"), retry_at=T0 + 2
    )
    await store.settle([failure], now=T0 + 1.5)
    again = await claim(store, now=T0 + 2)
    await store.settle([Completed(job.id, again.token, '{"b": 2, "a": 1}', attempt(2))], now=T0 + 3)
    done = await store.get(job.id)
    assert done is not None
    assert list(done.payload) == ["z", "a"] and done.payload["a"] == [1.5, None, "é"]
    assert list(done.result) == ["b", "a"]  # opaque JSON text: key order kept
    assert done.run_at == datetime.fromtimestamp(T0 + 2, UTC)
    assert done.created_at.tzinfo is UTC and done.started_at is not None
    assert done.started_at == datetime.fromtimestamp(T0 + 2, UTC)
    assert done.finished_at == datetime.fromtimestamp(T0 + 3, UTC)
    assert [(a.attempt, a.outcome, a.error) for a in done.history] == [
        (1, AttemptOutcome.FAILED, "ValueError: x"),
        (2, AttemptOutcome.COMPLETED, None),
    ]
    assert done.history[0].started_at == datetime.fromtimestamp(T0, UTC)
    assert done.history[1] == attempt(2)  # the attempt as the worker recorded it
    assert done.history[1].worker_id == "w1"


async def test_a_failing_request_does_not_undo_its_neighbours(store: JobStore) -> None:
    # Writes issued together may share a transaction; one that fails (here: a retry refused
    # because a live job holds its unique key) must not take the others down with it.
    first = new_job(unique_key="k", max_attempts=1)
    await store.enqueue([first])
    got = await claim(store)
    await store.settle(
        [Failed(first.id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), None)], now=T0
    )
    holder = new_job(unique_key="k")
    await store.enqueue([holder])  # the key is live again, held by another job
    before, after = new_job(), new_job()
    results = await asyncio.gather(
        store.enqueue([before]), store.retry(first.id, now=T0), store.enqueue([after])
    )
    assert list(results) == [[before.id], False, [after.id]]
    assert await store.get(before.id) is not None and await store.get(after.id) is not None
    assert (await store.stats()).pending == 3
