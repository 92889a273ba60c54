"""Queues, pause, limits, staging and kept counts: the same on every backend."""

from __future__ import annotations

from dataclasses import replace

from noormme_queue.core.job import AttemptOutcome, JobStatus
from noormme_queue.core.routing import RateLimit, TypeDefinition, TypeLimits
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Claim, Completed, Failed, JobStore

from .conftest import T0, new_job
from .test_conformance import attempt


async def claim(
    store: JobStore,
    limit: int = 10,
    *,
    now: float = T0,
    types: tuple[str, ...] = ("t",),
    queues: dict[str, int] | None = None,
) -> Claim:
    return await store.claim(
        list(types), limit, now=now, lease_until=now + 30, worker_id="w", queues=queues
    )


async def limit(store: JobStore, type_: str, **limits: object) -> None:
    definition = TypeDefinition(type_, "default", TypeLimits(**limits), "test", T0)  # type: ignore[arg-type]
    assert await store.define_types([definition]) == []


async def test_a_claim_takes_only_from_the_queues_it_is_given(store: JobStore) -> None:
    mail = [new_job(queue="emails") for _ in range(3)]
    other = [new_job() for _ in range(3)]
    await store.enqueue([*mail, *other])
    got = await claim(store, queues={"emails": 2})
    assert {j.id for j in got.jobs} <= {j.id for j in mail} and len(got.jobs) == 2
    assert all(j.queue == "emails" for j in got.jobs)
    both = await claim(store, queues={"emails": 5, "default": 1})
    assert sorted(j.queue for j in both.jobs) == ["default", "emails"]
    rest = await claim(store)  # no queues given: every queue
    assert len(rest.jobs) == 2 and all(j.queue == "default" for j in rest.jobs)


async def test_a_paused_queue_is_not_claimed_and_spends_no_attempt(store: JobStore) -> None:
    job = new_job(queue="reports")
    await store.enqueue([job])
    assert await store.set_paused("reports", True, now=T0) is True
    assert await store.set_paused("reports", True, now=T0) is False  # already
    assert (await claim(store)).jobs == []
    waiting = await store.get(job.id)
    assert waiting is not None and waiting.status is JobStatus.PENDING and waiting.attempts == 0
    [info] = [q for q in await store.queues() if q.name == "reports"]
    assert info.paused and info.pending == 1
    assert await store.set_paused("reports", False, now=T0) is True
    assert await store.set_paused("nowhere", False, now=T0) is False  # never paused
    assert [j.id for j in (await claim(store)).jobs] == [job.id]


async def test_a_concurrency_limit_holds_and_frees_its_slots(store: JobStore) -> None:
    await limit(store, "t", concurrency=2)
    jobs = [new_job() for _ in range(5)]
    await store.enqueue(jobs)
    first = await claim(store)
    assert len(first.jobs) == 2
    assert (await claim(store)).jobs == []  # at the limit: held back, still pending
    done = first.jobs[0]
    await store.settle([Completed(done.id, first.token, "1", attempt(1))], now=T0)
    assert len((await claim(store)).jobs) == 1
    # An expired lease frees its slot: the rescuer settles it, and it can run again.
    expired = await store.expired_leases(now=T0 + 31, limit=10)
    assert len(expired) == 2
    await store.settle([settle_expired(e, now=T0 + 31) for e in expired], now=T0 + 31)
    assert len((await claim(store, now=T0 + 31)).jobs) == 2


async def test_limits_apply_to_each_limit_key_on_its_own(store: JobStore) -> None:
    await limit(store, "t", concurrency=1)
    keyed = [new_job(limit_key=k) for k in ("a", "a", "b", "b")] + [new_job(), new_job()]
    await store.enqueue(keyed)
    got = await claim(store)
    assert sorted(str(j.limit_key) for j in got.jobs) == ["None", "a", "b"]


async def test_a_key_filled_by_the_claim_itself_does_not_cost_the_claim_its_slots(
    store: JobStore,
) -> None:
    # Nothing runs yet, so no key is at its limit before the claim; the claim's first job of
    # key a fills a's one slot, and the second a is skipped: the b behind them takes its place.
    await limit(store, "t", concurrency=1)
    first, second, other = new_job(limit_key="a"), new_job(limit_key="a"), new_job(limit_key="b")
    await store.enqueue([first, second, other])
    assert [j.id for j in (await claim(store, 2)).jobs] == [first.id, other.id]


async def test_a_held_back_type_does_not_block_others(store: JobStore) -> None:
    await limit(store, "slow", concurrency=1)
    urgent = [new_job("slow", priority=9) for _ in range(3)]
    plain = [new_job("t") for _ in range(3)]
    await store.enqueue([*urgent, *plain])
    got = await claim(store, 4, types=("slow", "t"))
    assert [j.type for j in got.jobs] == ["slow", "t", "t", "t"]  # in claim order


async def test_a_rate_limit_counts_starts_in_its_window(store: JobStore) -> None:
    await limit(store, "t", rate=RateLimit(3, 60.0))
    await store.enqueue([new_job() for _ in range(8)])
    first = await claim(store)
    assert len(first.jobs) == 3
    second = await claim(store, now=T0 + 30)
    assert second.jobs == [] and second.next_run_at == T0 + 60  # when the first start ages
    assert (await claim(store, now=T0 + 59.9)).jobs == []
    assert len((await claim(store, now=T0 + 60.5)).jobs) == 3


async def test_a_rate_limit_counts_each_limit_key_in_its_own_sliding_window(
    store: JobStore,
) -> None:
    await limit(store, "t", rate=RateLimit(2, 60.0))
    a = [new_job(limit_key="A", priority=1) for _ in range(3)]  # first in claim order
    b = [new_job(limit_key="B") for _ in range(3)]
    await store.enqueue([*a, *b])
    assert [j.id for j in (await claim(store, 2)).jobs] == [a[0].id, a[1].id]
    # A has spent its 2 starts: its third is refused while B still starts.
    assert [j.id for j in (await claim(store, 1, now=T0 + 10)).jobs] == [b[0].id]
    assert [j.id for j in (await claim(store, 1, now=T0 + 20)).jobs] == [b[1].id]
    both_full = await claim(store, now=T0 + 30)
    assert both_full.jobs == [] and both_full.next_run_at == T0 + 60  # A's starts age first
    third = await store.get(a[2].id)
    assert third is not None and third.status is JobStatus.PENDING
    # The window slides: A's starts at T0 leave it at T0 + 60, B's at T0 + 10 and + 20 later.
    freed = await claim(store, now=T0 + 60)
    assert [j.id for j in freed.jobs] == [a[2].id] and freed.next_run_at == T0 + 70
    assert (await claim(store, now=T0 + 69.9)).jobs == []
    assert [j.id for j in (await claim(store, now=T0 + 70)).jobs] == [b[2].id]


async def attempts_of(store: JobStore, job_id: str) -> tuple[JobStatus, int]:
    job = await store.get(job_id)
    assert job is not None
    return job.status, job.attempts


async def test_a_job_held_back_by_a_concurrency_limit_spends_no_attempt(store: JobStore) -> None:
    await limit(store, "t", concurrency=1)
    first, held = new_job(priority=1), new_job()
    other = [new_job("other") for _ in range(2)]
    await store.enqueue([first, held, *other])
    got = await claim(store, types=("t", "other"))
    assert [j.id for j in got.jobs] == [first.id, *(j.id for j in other)]  # held is skipped
    assert (await claim(store, types=("t", "other"))).jobs == []  # skipped again
    assert await attempts_of(store, held.id) == (JobStatus.PENDING, 0)
    await store.settle([Completed(first.id, got.token, "1", attempt(1))], now=T0)
    [taken] = (await claim(store)).jobs
    assert taken.id == held.id and taken.attempts == 1
    assert await attempts_of(store, held.id) == (JobStatus.PROCESSING, 1)


async def test_a_job_held_back_by_a_rate_limit_spends_no_attempt(store: JobStore) -> None:
    await limit(store, "t", rate=RateLimit(1, 60.0))
    first, held = new_job(priority=1), new_job()
    await store.enqueue([first, held])
    assert [j.id for j in (await claim(store)).jobs] == [first.id]
    for now in (T0, T0 + 10, T0 + 59):
        assert (await claim(store, now=now)).jobs == []
    assert await attempts_of(store, held.id) == (JobStatus.PENDING, 0)
    [taken] = (await claim(store, now=T0 + 60)).jobs
    assert taken.id == held.id and taken.attempts == 1
    assert await attempts_of(store, held.id) == (JobStatus.PROCESSING, 1)


async def test_a_job_not_due_is_scheduled_yet_counts_as_pending(store: JobStore) -> None:
    later = new_job(run_at=T0 + 100)
    await store.enqueue([later])
    stats = await store.stats()
    assert (stats.pending, stats.total) == (1, 1)
    listed = await store.list_jobs(status=JobStatus.PENDING)
    assert [j.id for j in listed] == [later.id] and listed[0].status is JobStatus.PENDING
    early = await claim(store, now=T0 + 50)
    assert early.jobs == [] and early.next_run_at == T0 + 100
    assert await store.cancel(later.id, now=T0) is JobStatus.PENDING
    assert await store.retry(later.id, now=T0 + 100)
    assert [j.id for j in (await claim(store, now=T0 + 100)).jobs] == [later.id]


async def test_a_retry_later_waits_out_of_the_claim_path(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await claim(store)
    failure = Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), T0 + 10)
    assert await store.settle([failure], now=T0) == [True]
    assert (await claim(store, now=T0 + 5)).jobs == []
    assert [j.id for j in (await claim(store, now=T0 + 10)).jobs] == [job.id]


async def test_kept_counts_match_the_rows_through_every_transition(store: JobStore) -> None:
    jobs = [new_job(queue=q) for q in ("default", "emails") for _ in range(5)]
    jobs.append(new_job(run_at=T0 + 1000))
    await store.enqueue(jobs)
    got = await claim(store, 4)
    await store.settle([Completed(j.id, got.token, "1", attempt(1)) for j in got.jobs[:2]], now=T0)
    failure = Failed(got.jobs[2].id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), None)
    await store.settle([failure], now=T0)
    await store.cancel(jobs[-2].id, now=T0)
    assert await store.purge(finished_before=T0 + 1, limit=10) == 3  # 2 completed + 1 cancelled
    stats = await store.stats()
    by_status = {s: len(await store.list_jobs(status=JobStatus(s), limit=100)) for s in JobStatus}
    assert {s.value: getattr(stats, s.value) for s in JobStatus} == {
        s.value: n for s, n in by_status.items()
    }
    assert stats.total == len(jobs) - 3
    queues = {q.name: q for q in await store.queues()}
    assert queues["emails"].total + queues["default"].total == stats.total


async def test_stats_of_one_queue_count_only_its_jobs(store: JobStore) -> None:
    mail = [new_job(queue="emails") for _ in range(3)]
    plain = [new_job() for _ in range(4)] + [new_job(run_at=T0 + 1000)]
    await store.enqueue([*mail, *plain])
    got = await claim(store, 10, queues={"emails": 2})
    await store.settle([Completed(got.jobs[0].id, got.token, "1", attempt(1))], now=T0)
    await store.cancel(plain[0].id, now=T0)
    emails = await store.stats(queue="emails")
    assert emails.to_dict() == {
        "total": 3,
        "pending": 1,
        "processing": 1,
        "completed": 1,
        "failed": 0,
        "cancelled": 0,
    }
    default = await store.stats(queue="default")
    assert (default.total, default.pending, default.cancelled) == (5, 4, 1)  # scheduled: pending
    every = await store.stats()
    assert every.total == emails.total + default.total
    nobody = await store.stats(queue="nobody")
    assert nobody.to_dict() == dict.fromkeys(nobody.to_dict(), 0)  # unknown: zeros
    [info] = [q for q in await store.queues() if q.name == "emails"]
    assert (info.total, info.pending, info.processing) == (3, 1, 1)  # the same kept counts


async def test_types_defined_elsewhere_are_reported_when_replaced(store: JobStore) -> None:
    first = TypeDefinition("report", "reports", TypeLimits(concurrency=2), "worker-a", T0)
    same = TypeDefinition("report", "reports", TypeLimits(concurrency=2), "worker-b", T0 + 1)
    other = TypeDefinition("report", "reports", TypeLimits(concurrency=3), "worker-b", T0 + 2)
    assert await store.define_types([first]) == []
    assert await store.define_types([same]) == []  # the same definition: nothing to say
    assert await store.define_types([other]) == [first]  # replaced what worker-a defined
    [stored] = await store.type_definitions()
    assert stored.limits.concurrency == 3 and stored.defined_by == "worker-b"
    [info] = [q for q in await store.queues() if q.name == "reports"]
    assert info.types == ("report",)


async def test_a_job_without_a_queue_goes_to_its_types_stored_queue(store: JobStore) -> None:
    reports = TypeDefinition("report", "reports", TypeLimits(), "worker-a", T0)
    assert await store.define_types([reports]) == []
    unset = [replace(new_job(type=t), queue=None) for t in ("report", "other", "report")]
    chosen = new_job(type="report", queue="urgent")
    ids = await store.enqueue([*unset, chosen])  # one batch: each row finds its own queue
    assert ids == [j.id for j in [*unset, chosen]]
    queues = [(await store.get(i)).queue for i in ids]  # type: ignore[union-attr]
    assert queues == ["reports", "default", "reports", "urgent"]


async def test_throughput_from_kept_minutes_equals_the_jobs(store: JobStore) -> None:
    jobs = [new_job() for _ in range(4)]
    await store.enqueue(jobs)
    got = await claim(store)
    done = [Completed(j.id, got.token, "1", attempt(1)) for j in got.jobs[:3]]
    await store.settle(done, now=T0 + 61)
    fail = Failed(got.jobs[3].id, got.token, attempt(1, AttemptOutcome.FAILED, "e"), None)
    await store.settle([fail], now=T0 + 130)
    since = (T0 // 60) * 60
    kept = await store.finished_counts(since=since, width=60.0)
    assert [(c.bucket, c.completed, c.failed) for c in kept] == [(1, 3, 0), (2, 0, 1)]
    odd = await store.finished_counts(since=since, width=45.0)  # not whole minutes: the jobs
    assert sum(c.completed for c in odd) == 3 and sum(c.failed for c in odd) == 1
    # minute 0 holds the four starts, minute 1 the three completions (noormme_minutes)
    assert await store.purge_minutes(before=since + 120) == 2


async def test_a_claim_timed_before_a_later_ones_forgetting_counts_no_forgotten_start(
    store: JobStore,
) -> None:
    """Processes take their time before their claim runs, so claims can run out of order.
    One at T0 + 61 forgets T0's starts (and takes nothing); one timed at T0 + 59 that runs
    after it must not start two more inside T0's window: it runs on the later clock."""
    await limit(store, "t", rate=RateLimit(2, 60.0))
    await store.enqueue([new_job() for _ in range(2)])
    assert len((await claim(store)).jobs) == 2  # two starts at T0
    assert (await claim(store, now=T0 + 61)).jobs == []  # forgets them
    await store.enqueue([new_job(created_at=T0 + 1) for _ in range(2)])
    late = await claim(store, now=T0 + 59)  # timed earlier, runs now
    starts = sorted(j.started_at.timestamp() for j in late.jobs if j.started_at)
    assert len(starts) == 2 and all(s >= T0 + 60 for s in starts), starts
