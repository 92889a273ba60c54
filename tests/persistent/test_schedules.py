"""Recurring jobs through QueueManager: the API and its sync twin, exactly one job per tick
across managers (SQLite and PostgreSQL), restarts and missed ticks, DST, bad input.

The scheduler is driven with a pinned clock (``qm.scheduler.run_once(now)``, background
loops off) except where the loop itself is under test.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from noormme_queue import (
    InvalidJob,
    InvalidPayload,
    InvalidSchedule,
    Job,
    JobStatus,
    PayloadTooLarge,
    QueueConfig,
    QueueError,
    QueueManager,
    RetryPolicy,
)
from noormme_queue.core.clock import ManualClock
from noormme_queue.engine.scheduler import Scheduler
from noormme_queue.store import StoredSchedule

from ..conftest import wait_status, wait_until
from ..pg import fresh_schema

T0 = 1_800_000_000.0  # a multiple of 60 and of 3600


def manager(config: QueueConfig, clock: ManualClock, **kwargs: Any) -> QueueManager:
    return QueueManager(config, clock=clock, background=False, builtins=False, **kwargs)


@pytest.fixture
async def pinned(config: QueueConfig, clock: ManualClock) -> AsyncIterator[QueueManager]:
    qm = manager(config, clock)
    yield qm
    await qm.stop(timeout=5)


async def tick_jobs(qm: QueueManager, name: str | None = None) -> list[Job]:
    jobs = await qm.list_jobs(limit=10_000)
    return sorted(
        (j for j in jobs if j.schedule is not None and (name is None or j.schedule == name)),
        key=lambda j: j.run_at,
    )


def at(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# -- the API ---------------------------------------------------------------------------------


async def test_schedule_list_update_and_unschedule(
    pinned: QueueManager, clock: ManualClock
) -> None:
    qm = pinned
    made = await qm.schedule(
        "nightly-report", "report", {"kind": "daily"}, cron="0 3 * * *",
        timezone="Europe/Paris", priority=5, max_attempts=2, timeout=60.0,
    )  # fmt: skip
    assert made.name == "nightly-report" and made.job_type == "report"
    assert made.cron == "0 3 * * *" and made.every is None and made.timezone == "Europe/Paris"
    assert made.next_run_at.tzinfo is not None and made.last_run_at is None and not made.paused
    local = made.next_run_at.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (3, 0) and made.next_run_at.timestamp() > clock.now()
    assert made.options["priority"] == 5 and made.options["max_attempts"] == 2
    assert made.options["timeout"] == 60.0 and made.missed == "latest"
    beat = await qm.schedule("heartbeat", "ping", every=timedelta(seconds=30))
    assert beat.every == timedelta(seconds=30) and beat.next_run_at == at(T0 + 30)
    assert [s.name for s in await qm.list_schedules()] == ["heartbeat", "nightly-report"]

    # Declarative: the same call on the next boot changes nothing; a new payload keeps the
    # next tick; new timing computes a new one.
    clock.advance(10)
    again = await qm.schedule("heartbeat", "ping", every=30)
    assert again.next_run_at == beat.next_run_at and again.updated_at == beat.updated_at
    weekly = await qm.schedule(
        "nightly-report", "report", {"kind": "weekly"}, cron="0 3 * * *",
        timezone="Europe/Paris", priority=5,
    )  # fmt: skip
    assert weekly.next_run_at == made.next_run_at and weekly.payload == {"kind": "weekly"}
    assert weekly.options["max_attempts"] == 3  # options are the new call's, whole
    faster = await qm.schedule("heartbeat", "ping", every=15)
    assert faster.next_run_at == at(T0 + 15)

    assert await qm.unschedule("heartbeat")
    assert not await qm.unschedule("heartbeat")
    assert [s.name for s in await qm.list_schedules()] == ["nightly-report"]
    assert await qm.get_schedule("heartbeat") is None


async def test_a_tick_makes_one_job_with_the_schedules_options(
    pinned: QueueManager, clock: ManualClock
) -> None:
    qm = pinned
    policy = RetryPolicy(max_retries=4, base_delay=2.0)
    await qm.schedule("hb", "ping", {"n": 1}, every=60, priority=7, retry_policy=policy)
    assert (await qm.scheduler.run_once(T0 + 59.9)).jobs == 0  # not yet
    clock.set(T0 + 60.3)
    report = await qm.scheduler.run_once(clock.now())
    assert (report.fired, report.jobs, report.next_at) == (1, 1, T0 + 120)
    (job,) = await tick_jobs(qm)
    assert job.schedule == "hb" and job.run_at == at(T0 + 60)  # run_at is the tick
    assert (job.type, job.payload, job.priority, job.max_attempts) == ("ping", {"n": 1}, 7, 5)
    assert job.retry_policy == policy and job.created_at == at(T0 + 60.3)
    shown = await qm.get_schedule("hb")
    assert shown is not None and shown.last_run_at == at(T0 + 60)
    assert shown.last_job_id == job.id and shown.last_status is JobStatus.PENDING
    assert shown.next_run_at == at(T0 + 120)
    # A second pass at the same moment finds nothing due.
    assert (await qm.scheduler.run_once(clock.now())).jobs == 0


async def test_a_tick_goes_to_its_queue_with_its_limit_key(
    pinned: QueueManager, clock: ManualClock
) -> None:
    qm = pinned
    qm.register_handler("mail", lambda job: None, queue="emails")
    await qm.schedule("digest", "mail", every=60, limit_key="tenant-7")  # the handler's queue
    await qm.schedule("report", "ping", every=60, queue="reports", limit_key="tenant-8")
    shown = await qm.get_schedule("report")
    assert shown is not None
    assert (shown.options["queue"], shown.options["limit_key"]) == ("reports", "tenant-8")
    clock.set(T0 + 60.1)
    assert (await qm.scheduler.run_once(clock.now())).jobs == 2
    jobs = {j.schedule: j for j in await tick_jobs(qm)}
    assert (jobs["digest"].queue, jobs["digest"].limit_key) == ("emails", "tenant-7")
    assert (jobs["report"].queue, jobs["report"].limit_key) == ("reports", "tenant-8")
    # Counted like any enqueue: the kept counts behind stats and queue listings.
    pending = {q.name: q.pending for q in await qm.list_queues()}
    assert (pending["emails"], pending["reports"]) == (1, 1)
    assert (await qm.get_stats()).pending == 2


async def test_pause_resume_and_run_now(pinned: QueueManager, clock: ManualClock) -> None:
    qm = pinned
    await qm.schedule("hb", "ping", every=60)
    assert await qm.pause_schedule("hb")
    assert (await qm.get_schedule("hb")).paused  # type: ignore[union-attr]
    clock.set(T0 + 600.5)  # ten ticks pass while paused
    assert (await qm.scheduler.run_once(clock.now())).jobs == 0
    assert await qm.scheduler.run_once(clock.now()) is not None
    # Run it by hand while paused: one job due now; its ticks stay as they were.
    job_id = await qm.run_schedule_now("hb")
    assert job_id is not None
    job = await qm.get_job(job_id)
    assert job is not None and job.schedule == "hb" and job.run_at == at(T0 + 600.5)
    assert await qm.resume_schedule("hb")
    resumed = await qm.get_schedule("hb")
    assert resumed is not None and not resumed.paused
    assert resumed.next_run_at == at(T0 + 660)  # the paused ticks are skipped, not caught up
    assert resumed.last_job_id == job_id
    clock.set(T0 + 660.1)
    assert (await qm.scheduler.run_once(clock.now())).jobs == 1
    for call in (qm.pause_schedule, qm.resume_schedule, qm.run_schedule_now):
        assert not await call("missing")


def test_the_sync_twin(config: QueueConfig, clock: ManualClock) -> None:
    qm = manager(config, clock)
    try:
        made = qm.sync.schedule("hb", "ping", {"a": 1}, every=60, priority=3)
        assert made.next_run_at == at(T0 + 60) and made.options["priority"] == 3
        assert [s.name for s in qm.sync.list_schedules()] == ["hb"]
        assert qm.sync.get_schedule("hb") == made
        assert qm.sync.pause_schedule("hb") and qm.sync.get_schedule("hb").paused  # type: ignore[union-attr]
        assert qm.sync.resume_schedule("hb")
        job_id = qm.sync.run_schedule_now("hb")
        assert job_id is not None and qm.sync.get_job(job_id).schedule == "hb"  # type: ignore[union-attr]
        assert qm.sync.unschedule("hb") and qm.sync.list_schedules() == []
    finally:
        qm.sync.close()


async def test_a_job_type_without_a_handler_here_is_fine(pinned: QueueManager) -> None:
    made = await pinned.schedule("elsewhere", "runs-on-another-machine", every=60)
    assert made.job_type == "runs-on-another-machine"


async def test_the_worker_runs_scheduled_jobs(pinned: QueueManager, clock: ManualClock) -> None:
    qm = pinned
    seen: list[tuple[str | None, datetime]] = []
    qm.register_handler("ping", lambda job: seen.append((job.schedule, job.run_at)))
    await qm.start()
    await qm.schedule("hb", "ping", every=60)
    clock.set(T0 + 60.2)
    await qm.scheduler.run_once(clock.now())
    (job,) = await tick_jobs(qm)
    await wait_status(qm, job.id, "completed")
    assert seen == [("hb", at(T0 + 60))]
    assert (await qm.get_schedule("hb")).last_status is JobStatus.COMPLETED  # type: ignore[union-attr]


# -- exactly once, across managers -----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with fresh_schema() as url:
        yield url


async def test_three_managers_make_exactly_one_job_per_tick(shared_url: str) -> None:
    clock = ManualClock(T0 + 0.25)
    config = QueueConfig(database_url=shared_url, interval=30.0, cleanup_interval=0)
    managers = [manager(config, clock) for _ in range(3)]
    try:
        for qm in managers:  # each declares the schedule at start-up, as an app would
            await qm.schedule("hb", "ping", every=1)
        lost = 0
        for _ in range(30):
            clock.advance(1.0)
            now = clock.now()
            reports = await asyncio.gather(*(qm.scheduler.run_once(now) for qm in managers))
            assert sum(r.jobs for r in reports) == 1, reports
            lost += sum(r.lost for r in reports)
        jobs = await tick_jobs(managers[0], "hb")
        ticks = [j.run_at.timestamp() for j in jobs]
        assert ticks == [T0 + n for n in range(1, 31)]  # one per tick, none missing
        assert len({j.id for j in jobs}) == 30
    finally:
        for qm in managers:
            await qm.stop(timeout=5)
    if shared_url.startswith("postgresql"):
        assert lost > 0  # the compare-and-set really was contended


# -- restarts and missed ticks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("missed", "expected"),
    [
        ("latest", [T0 + 60, T0 + 120, T0 + 3600]),  # the latest missed tick, once
        ("all", [T0 + 60 * n for n in range(1, 61)]),  # every tick, caught up
        ("none", [T0 + 60, T0 + 120]),  # the missed ones dropped
    ],
)
async def test_ticks_missed_while_no_worker_ran(
    config: QueueConfig, missed: str, expected: list[float]
) -> None:
    config = dataclasses.replace(config, interval=1.0)  # on time: within 10 s of the tick
    clock = ManualClock(T0)
    first = manager(config, clock)
    await first.schedule("hb", "ping", every=60, missed=missed)
    for tick in (T0 + 60, T0 + 120):
        clock.set(tick + 0.5)
        await first.scheduler.run_once(clock.now())
    await first.stop()
    # Nobody runs for almost an hour; then a new process opens the same database.
    clock.set(T0 + 3600 + 30)
    second = manager(config, clock)
    try:
        assert [s.name for s in await second.list_schedules()] == ["hb"]  # it survived
        while (await second.scheduler.run_once(clock.now())).jobs:
            pass
        assert [j.run_at.timestamp() for j in await tick_jobs(second)] == expected
        shown = await second.get_schedule("hb")
        assert shown is not None and shown.next_run_at == at(T0 + 3660)
    finally:
        await second.stop()


async def test_a_late_worker_still_makes_every_on_time_tick(
    pinned: QueueManager, clock: ManualClock
) -> None:
    await pinned.schedule("hb", "ping", every=1)
    clock.set(T0 + 4.5)  # the loop was held up for over three ticks
    assert (await pinned.scheduler.run_once(clock.now())).jobs == 4
    assert [j.run_at.timestamp() for j in await tick_jobs(pinned)] == [T0 + n for n in (1, 2, 3, 4)]


# -- time zones and DST ----------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"])
async def test_a_0230_paris_job_runs_once_on_the_transition_day(
    config: QueueConfig, day: str
) -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=paris) - timedelta(days=1)
    clock = ManualClock(start.timestamp())
    qm = manager(config, clock)
    try:
        await qm.schedule("night", "report", cron="30 2 * * *", timezone="Europe/Paris")
        # A worker polling every minute for three days, through the change.
        for _ in range(3 * 24 * 60):
            clock.advance(60)
            await qm.scheduler.run_once(clock.now())
        jobs = await tick_jobs(qm)
        days = Counter(j.run_at.astimezone(paris).date().isoformat() for j in jobs)
        assert days[day] == 1 and len(jobs) == 3 and set(days.values()) == {1}, days
        (tick,) = [j.run_at for j in jobs if j.run_at.astimezone(paris).date().isoformat() == day]
        expected = "01:00" if day.endswith("03-29") else "00:30"  # 03:00 CEST / 02:30 CEST
        assert tick.strftime("%H:%M") == expected
    finally:
        await qm.stop()


# -- bad input: a QueueError naming the problem, nothing stored -------------------------------


class Strict:
    """A handler whose model wants ``to`` (a payload add_job would refuse without it)."""

    def __init__(self) -> None:
        from pydantic import BaseModel

        class Mail(BaseModel):
            to: str

        self.payload_model = Mail

    def process(self, job: Job) -> None:
        return None


BAD: list[tuple[dict[str, Any], type[QueueError], str | None, str]] = [
    ({"cron": "61 * * * *"}, InvalidSchedule, "cron", "not a valid cron expression"),
    ({"cron": "0 3 * * *", "timezone": "Nowhere/City"}, InvalidSchedule, "timezone", "unknown"),
    ({"cron": "0 3 * * *", "every": 60}, InvalidSchedule, "every", "exactly one of"),
    ({}, InvalidSchedule, "cron", "exactly one of"),
    ({"every": 0}, InvalidSchedule, "every", "at least 1 second"),
    ({"every": -1}, InvalidSchedule, "every", "at least 1 second"),
    ({"every": 60, "missed": "sometimes"}, InvalidSchedule, "missed", "latest"),
    ({"every": 60, "name": ""}, InvalidSchedule, "name", "schedule name"),
    ({"every": 60, "job_type": ""}, InvalidJob, "type", "job type"),
    ({"every": 60, "payload": {"x": {1, 2}}}, InvalidPayload, "payload", "JSON"),
    ({"every": 60, "payload": "x" * 2_000_000}, PayloadTooLarge, "payload", "limit"),
    ({"every": 60, "job_type": "mail", "payload": {}}, InvalidPayload, None, "to"),
    ({"every": 60, "priority": "high"}, InvalidJob, "priority", "priority"),
    ({"every": 60, "max_attempts": 0}, InvalidJob, "max_attempts", "max_attempts"),
    ({"every": 60, "timeout": -1}, InvalidJob, "timeout", "timeout"),
    ({"every": 60, "delay": 5.0}, InvalidJob, "delay", "each job runs at its tick"),
    ({"every": 60, "run_at": datetime.now(UTC)}, InvalidJob, "run_at", "set by each tick"),
    ({"every": 60, "priorty": 1}, InvalidJob, "priorty", "did you mean 'priority'"),
]


@pytest.mark.parametrize(("kwargs", "error", "field", "words"), BAD)
async def test_bad_input_is_refused_and_nothing_is_stored(
    pinned: QueueManager,
    kwargs: dict[str, Any],
    error: type[QueueError],
    field: str | None,
    words: str,
) -> None:
    pinned.register_handler("mail", Strict())
    args = {"name": "bad", "job_type": "ping", "payload": None} | kwargs
    with pytest.raises(error, match=words) as caught:
        await pinned.schedule(args.pop("name"), args.pop("job_type"), args.pop("payload"), **args)
    if field is not None:
        assert getattr(caught.value, "field", None) == field
    else:
        assert "to" in str(getattr(caught.value, "field", "")) or "to" in str(caught.value)
    assert await pinned.list_schedules() == []
    assert await pinned.list_jobs() == []


# -- the loop in every worker ----------------------------------------------------------------


async def test_the_loop_is_woken_by_a_new_schedule_and_sleeps_until_each_tick(
    config: QueueConfig,
) -> None:
    # The poll interval is 30 s: the first job within a few seconds shows the loop was woken
    # by schedule(); the next ones, a second apart, that it slept until each tick.
    qm = QueueManager(config, builtins=False)
    qm.register_handler("ping", lambda job: None)
    try:
        await qm.schedule("yearly", "ping", cron="0 0 1 1 *")
        await qm.start()
        # The loop's first pass has seen the yearly tick: it now sleeps a whole poll (30 s).
        await wait_until(lambda: qm.scheduler.next_at is not None, what="the first pass")
        await qm.schedule("hb", "ping", every=1)

        async def three_done() -> bool:
            jobs = await tick_jobs(qm, "hb")
            return len([j for j in jobs if j.status == JobStatus.COMPLETED]) >= 3

        await wait_until(three_done, timeout=15, what="three ticks to run")
        ticks = [j.run_at.timestamp() for j in await tick_jobs(qm, "hb")]
        assert ticks == [ticks[0] + n for n in range(len(ticks))]
    finally:
        await qm.stop(timeout=5)


async def test_a_schedule_that_cannot_be_planned_spoils_no_other(
    pinned: QueueManager, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    await pinned.schedule("good", "ping", every=60)
    await pinned.schedule("broken", "ping", every=60)
    # Written by hand, as a newer version (or a person) might: a cron this one cannot read.
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        conn.execute("UPDATE noormme_schedules SET every = NULL, cron = 'not a cron' "
                     "WHERE name = 'broken'")  # fmt: skip
    clock.set(T0 + 60.5)
    report = await pinned.scheduler.run_once(clock.now())
    assert (report.fired, report.jobs) == (1, 1)
    assert [j.schedule for j in await tick_jobs(pinned)] == ["good"]
    assert "schedule 'broken' cannot be planned" in caplog.text
    assert report.next_at is None  # the loop polls, rather than spin on the broken one


async def test_dropped_ticks_are_logged_once_by_the_process_that_fired(
    config: QueueConfig, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0)
    first, second = manager(config, clock), manager(config, clock)
    try:
        await first.schedule("hb", "ping", every=60)
        clock.set(T0 + 3600 + 90)  # an hour with no worker
        now = clock.now()
        # The race, pinned: one process reads the due schedule, another fires it first.
        seen = await first.store.due_schedules(now=now, limit=10)
        reads = iter([seen])

        async def due(now: float, limit: int) -> list[StoredSchedule]:
            return next(reads, [])

        late = Scheduler(
            due=due,
            fire=lambda fires, now: first.store.fire_schedules(fires, now=now),
            next_at=first.store.next_schedule_at,
            on_enqueued=lambda types: None,
        )
        assert (await second.scheduler.run_once(now)).jobs == 1
        assert (await late.run_once(now)).lost == 1
        assert len(await tick_jobs(first)) == 1
    finally:
        await first.stop()
        await second.stop()
    warnings = [r for r in caplog.records if "were skipped" in r.getMessage()]
    assert len(warnings) == 1
