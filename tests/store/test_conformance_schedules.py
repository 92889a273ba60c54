"""The schedule operations every JobStore must have (run on each backend, like
test_conformance.py): saving is declarative, a tick is claimed by exactly one fire, and a
fire writes its jobs with it or not at all."""

from __future__ import annotations

import asyncio
import dataclasses

from noormme_queue.core.ids import new_job_id
from noormme_queue.core.job import JobStatus
from noormme_queue.store import Claim, Fire, JobStore, NewJob, NewSchedule, StoredSchedule

from .conftest import T0, new_job

TEMPLATE = dataclasses.replace(new_job("report", {"kind": "daily"}, priority=5), id="", run_at=0)


def definition(
    name: str = "nightly",
    *,
    job: NewJob = TEMPLATE,
    cron: str | None = "0 3 * * *",
    every: float | None = None,
    timezone: str = "Europe/Paris",
    missed: str = "latest",
    next_run_at: float = T0 + 3600,
) -> NewSchedule:
    return NewSchedule(name, job, cron, every, timezone, missed, next_run_at)


def tick_job(schedule: StoredSchedule, tick: float) -> NewJob:
    return dataclasses.replace(
        schedule.job, id=new_job_id(), run_at=tick, created_at=tick, schedule=schedule.name
    )


def fire_of(schedule: StoredSchedule, tick: float, *, jobs: int = 1) -> Fire:
    made = tuple(tick_job(schedule, tick) for _ in range(jobs))
    return Fire(schedule.name, schedule.revision, schedule.next_run_at, tick + 3600, tick, made)


async def test_save_creates_and_reads_back(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    assert saved.name == "nightly" and saved.cron == "0 3 * * *" and saved.every is None
    assert saved.timezone == "Europe/Paris" and saved.missed == "latest"
    assert saved.job.type == "report" and saved.job.payload == '{"kind": "daily"}'
    assert saved.job.priority == 5 and saved.job.max_attempts == 3
    assert (saved.next_run_at, saved.last_run_at, saved.paused) == (T0 + 3600, None, False)
    assert saved.revision == 1 and saved.created_at == saved.updated_at == T0
    assert await store.get_schedule("nightly") == saved
    assert await store.list_schedules() == [saved]
    assert await store.get_schedule("missing") is None


async def test_saving_again_is_declarative(store: JobStore) -> None:
    first = await store.save_schedule(definition(), now=T0)
    # The same definition on the next boot: nothing changes, not even the revision.
    same = await store.save_schedule(definition(next_run_at=T0 + 7200), now=T0 + 10)
    assert same == first
    # A new payload: the next tick stays, the revision moves (fires under way are spoilt).
    other_job = dataclasses.replace(TEMPLATE, payload='{"kind": "weekly"}')
    updated = await store.save_schedule(
        definition(job=other_job, next_run_at=T0 + 7200), now=T0 + 20
    )
    assert updated.next_run_at == first.next_run_at and updated.revision == 2
    assert updated.job.payload == '{"kind": "weekly"}' and updated.updated_at == T0 + 20
    # New timing: the next tick is the one given.
    retimed = await store.save_schedule(
        definition(cron=None, every=60.0, timezone="UTC", next_run_at=T0 + 60), now=T0 + 30
    )
    assert (retimed.every, retimed.cron, retimed.next_run_at) == (60.0, None, T0 + 60)
    assert retimed.revision == 3 and retimed.created_at == T0


async def test_exactly_one_fire_claims_a_tick(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    tick = saved.next_run_at
    results = await asyncio.gather(
        *(store.fire_schedules([fire_of(saved, tick)], now=tick) for _ in range(3))
    )
    applied = [r[0] for r in results if r[0] is not None]
    assert len(applied) == 1 and [r[0] for r in results].count(None) == 2
    jobs = await store.list_jobs(limit=10)
    assert [j.id for j in jobs] == applied[0]
    job = jobs[0]
    assert job.schedule == "nightly" and job.run_at.timestamp() == tick
    assert (job.type, job.payload, job.priority, job.status) == (
        "report",
        {"kind": "daily"},
        5,
        JobStatus.PENDING,
    )
    after = await store.get_schedule("nightly")
    assert after is not None
    assert (after.next_run_at, after.last_run_at, after.last_job_id) == (
        tick + 3600,
        tick,
        job.id,
    )
    assert after.last_status is JobStatus.PENDING
    assert after.revision == saved.revision  # a fire is not a change of definition


async def test_a_stale_fire_writes_nothing(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    changed = dataclasses.replace(TEMPLATE, priority=9)
    await store.save_schedule(definition(job=changed), now=T0 + 1)  # revision 2
    assert await store.fire_schedules([fire_of(saved, saved.next_run_at)], now=T0 + 2) == [None]
    moved = dataclasses.replace(saved, revision=2, next_run_at=saved.next_run_at - 1)
    assert await store.fire_schedules([fire_of(moved, moved.next_run_at)], now=T0 + 2) == [None]
    assert await store.list_jobs(limit=10) == []
    again = await store.get_schedule("nightly")
    assert again is not None and again.last_run_at is None


async def test_a_fire_without_jobs_moves_the_next_tick_only(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    skip = Fire("nightly", saved.revision, saved.next_run_at, saved.next_run_at + 86_400, None)
    assert await store.fire_schedules([skip], now=T0) == [[]]
    after = await store.get_schedule("nightly")
    assert after is not None and after.next_run_at == saved.next_run_at + 86_400
    assert after.last_run_at is None and after.last_job_id is None


async def test_a_fire_of_several_ticks_and_schedules_at_once(store: JobStore) -> None:
    a = await store.save_schedule(definition("a"), now=T0)
    b = await store.save_schedule(definition("b"), now=T0)
    results = await store.fire_schedules(
        [fire_of(a, a.next_run_at, jobs=3), fire_of(b, T0)], now=T0
    )
    assert [len(r or []) for r in results] == [3, 1]
    assert {j.schedule for j in await store.list_jobs(limit=10)} == {"a", "b"}


async def test_a_live_job_with_the_unique_key_wins(store: JobStore) -> None:
    keyed = dataclasses.replace(TEMPLATE, unique_key="nightly-report")
    saved = await store.save_schedule(definition(job=keyed), now=T0)
    (first,) = await store.fire_schedules([fire_of(saved, saved.next_run_at)], now=T0)
    assert first is not None
    moved = await store.get_schedule("nightly")
    assert moved is not None
    (second,) = await store.fire_schedules([fire_of(moved, moved.next_run_at)], now=T0)
    assert second == first  # the first tick's job still waits: no second one
    assert len(await store.list_jobs(limit=10)) == 1


async def test_due_and_next_leave_paused_schedules_out(store: JobStore) -> None:
    await store.save_schedule(definition("soon", next_run_at=T0 + 10), now=T0)
    await store.save_schedule(definition("later", next_run_at=T0 + 20), now=T0)
    await store.save_schedule(definition("past", next_run_at=T0 - 5), now=T0)
    assert [s.name for s in await store.due_schedules(now=T0 + 10, limit=10)] == ["past", "soon"]
    assert [s.name for s in await store.due_schedules(now=T0 + 10, limit=1)] == ["past"]
    assert await store.next_schedule_at() == T0 - 5
    assert await store.pause_schedule("past", now=T0)
    assert [s.name for s in await store.due_schedules(now=T0 + 30, limit=10)] == ["soon", "later"]
    assert await store.next_schedule_at() == T0 + 10


async def test_pause_and_resume(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    assert await store.pause_schedule("nightly", now=T0 + 1)
    paused = await store.get_schedule("nightly")
    assert paused is not None and paused.paused and paused.revision == saved.revision + 1
    assert await store.pause_schedule("nightly", now=T0 + 2)  # again: still paused, same
    assert (await store.get_schedule("nightly")).revision == paused.revision  # type: ignore[union-attr]
    assert not await store.pause_schedule("missing", now=T0)
    # A fire read before the pause is spoilt by it.
    assert await store.fire_schedules([fire_of(saved, saved.next_run_at)], now=T0) == [None]
    # Resume is a compare-and-set on the revision.
    assert not await store.resume_schedule(
        "nightly", revision=saved.revision, next_run_at=T0 + 99, now=T0 + 3
    )
    assert await store.resume_schedule(
        "nightly", revision=paused.revision, next_run_at=T0 + 99, now=T0 + 3
    )
    resumed = await store.get_schedule("nightly")
    assert resumed is not None and not resumed.paused and resumed.next_run_at == T0 + 99
    # Saving the same definition again keeps a schedule paused by an operator paused.
    await store.pause_schedule("nightly", now=T0 + 4)
    kept = await store.save_schedule(
        definition(job=dataclasses.replace(TEMPLATE, priority=1)), now=T0 + 5
    )
    assert kept.paused


async def test_delete_keeps_the_jobs_it_made(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    (ids,) = await store.fire_schedules([fire_of(saved, saved.next_run_at)], now=T0)
    assert await store.delete_schedule("nightly")
    assert not await store.delete_schedule("nightly")
    assert await store.list_schedules() == []
    assert ids is not None
    job = await store.get(ids[0])
    assert job is not None and job.schedule == "nightly"


async def test_the_last_outcome_follows_the_last_job(store: JobStore) -> None:
    saved = await store.save_schedule(definition(), now=T0)
    await store.fire_schedules([fire_of(saved, saved.next_run_at)], now=T0)
    await store.cancel((await store.list_jobs(limit=1))[0].id, now=T0)
    shown = await store.list_schedules()
    assert shown[0].last_status is JobStatus.CANCELLED
    await store.purge(finished_before=T0 + 1, limit=10)
    gone = await store.get_schedule("nightly")
    assert gone is not None and gone.last_job_id is not None and gone.last_status is None


async def test_an_ordinary_job_has_no_schedule(store: JobStore) -> None:
    job = new_job()
    await store.enqueue([job])
    got = await store.get(job.id)
    assert got is not None and got.schedule is None


async def test_a_fired_job_is_written_as_enqueue_writes_one(store: JobStore) -> None:
    """The template's queue and limit key; pending when due, else scheduled (staged by the
    claim); counted in the kept counts, from which the claim finds what to take."""
    routed = dataclasses.replace(TEMPLATE, queue="reports", limit_key="tenant-1")
    saved = await store.save_schedule(definition(job=routed), now=T0)
    tick = saved.next_run_at
    due = tick_job(saved, tick)
    later = dataclasses.replace(tick_job(saved, tick), run_at=tick + 60)
    fire = Fire(saved.name, saved.revision, tick, tick + 3600, tick, (due, later))
    assert await store.fire_schedules([fire], now=tick) == [[due.id, later.id]]
    written = await store.get(due.id)
    assert written is not None and written.status is JobStatus.PENDING
    assert (written.queue, written.limit_key) == ("reports", "tenant-1")
    stats = await store.stats()
    assert (stats.total, stats.pending) == (2, 2)
    [info] = [q for q in await store.queues() if q.name == "reports"]
    assert info.pending == 2
    assert await store.pending_types() == ["report"]

    async def claim(now: float) -> Claim:
        return await store.claim(
            ["report"], 5, now=now, lease_until=now + 30, worker_id="w", queues={"reports": 5}
        )

    assert [j.id for j in (await claim(tick)).jobs] == [due.id]
    waiting = await claim(tick)  # the later one waits as scheduled: the claim knows when
    assert waiting.jobs == [] and waiting.next_run_at == tick + 60
    assert [j.id for j in (await claim(tick + 60)).jobs] == [later.id]  # staged when due
    stats = await store.stats()
    assert (stats.pending, stats.processing) == (0, 2)
