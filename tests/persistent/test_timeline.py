"""A job's timeline through the facade, with a real worker, on both backends:
``qm.get_job_events`` and its sync twin, who enqueued (python, task, schedule), a job that
fails once then completes, a lease lost and recovered by the rescuer under a pinned clock."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from noormme_queue import EventKind, InvalidJob, Job, JobEvent, QueueConfig, QueueManager
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status
from ..pg import fresh_schema

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    with fresh_schema() as pg_url:
        yield pg_url


def config(url: str) -> QueueConfig:
    return QueueConfig(database_url=url, interval=30.0, cleanup_interval=0)


def steps(events: list[JobEvent]) -> list[tuple[str, str | None, str | None, int | None]]:
    return [(e.kind.value, e.worker, e.by, e.attempt) for e in events]


async def test_a_job_that_fails_once_then_completes(url: str) -> None:
    qm = QueueManager(config(url), builtins=False)
    runs: list[int] = []

    def flaky(job: Job) -> str:
        runs.append(job.attempts)
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        return "done"

    qm.register_handler("flaky", flaky)
    await qm.start()
    try:
        retry = {"max_retries": 2, "base_delay": 0.0, "jitter": 0.0}
        job_id = await qm.add_job("flaky", {}, retry_policy=retry)
        await wait_status(qm, job_id, "completed")
        events = await qm.get_job_events(job_id)
        me = qm.get_status().worker_id
    finally:
        await qm.stop()
    assert steps(events) == [
        ("enqueued", None, "python", None),
        ("claimed", me, None, 1),
        ("failed", me, None, 1),
        ("retry_scheduled", None, None, 1),
        ("claimed", me, None, 2),
        ("completed", me, None, 2),
    ]
    assert events[2].detail == {
        "error_type": "builtins.RuntimeError",
        "error": "RuntimeError: first run fails",
    }
    assert events[3].detail["retry_at"] == pytest.approx(events[2].at.timestamp())
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))


async def test_a_lost_lease_recovered_by_the_rescuer_under_a_pinned_clock(url: str) -> None:
    clock = ManualClock(T0)
    cfg = config(url)
    qm = QueueManager(cfg, clock=clock, background=False, builtins=False, worker_id="live")
    job_id = await qm.add_job("resumable", {})
    # A worker claims it and dies: claimed through the store, never renewed.
    lease = cfg.lease_timeout
    await qm.store.claim(["resumable"], 1, now=T0 + 1, lease_until=T0 + 1 + lease, worker_id="dead")
    qm.register_handler("resumable", lambda job: "ok")
    await qm.start()
    try:
        clock.set(T0 + 2 + lease)
        report = await qm.rescuer.run_once(clock.now())
        assert (report.recovered, report.failed) == (1, 0)
        await wait_status(qm, job_id, "completed")
        events = await qm.get_job_events(job_id)
    finally:
        await qm.stop()
    assert steps(events) == [
        ("enqueued", None, "python", None),
        ("claimed", "dead", None, 1),
        ("lease_expired", "dead", "rescuer", 1),
        ("retry_scheduled", None, "rescuer", 1),
        ("claimed", "live", None, 2),
        ("completed", "live", None, 2),
    ]
    expired_at = T0 + 2 + lease
    assert [e.at.timestamp() for e in events] == [T0, T0 + 1, *[expired_at] * 4]
    assert events[3].detail == {"retry_at": expired_at}


async def test_who_enqueued_a_task_a_schedule_and_a_caller_who_names_itself(url: str) -> None:
    clock = ManualClock(T0)
    qm = QueueManager(config(url), clock=clock, background=False, builtins=False)

    @qm.task(name="greet")
    def greet(name: str) -> str:
        return f"hi {name}"

    task_job = await greet.enqueue("ada")
    named = await qm.add_job("greet", {"name": "bob"}, by="billing:nightly")
    (bulk,) = await qm.add_jobs([("greet", {"name": "cy"})], by="importer")
    await qm.schedule("hb", "greet", {"name": "eve"}, every=60)
    clock.set(T0 + 60.5)
    await qm.scheduler.run_once(clock.now())
    (ticked,) = await qm.list_jobs(type="greet", limit=1)
    try:
        firsts = {
            job_id: (await qm.get_job_events(job_id))[0]
            for job_id in (task_job, named, bulk, ticked.id)
        }
    finally:
        await qm.store.close()
    assert {job_id: e.by for job_id, e in firsts.items()} == {
        task_job: "task",
        named: "billing:nightly",
        bulk: "importer",
        ticked.id: "schedule",
    }
    assert firsts[ticked.id].kind is EventKind.ENQUEUED
    assert firsts[ticked.id].detail == {"schedule": "hb"}  # due at its tick, which passed


async def test_bad_actors_and_limits_are_refused(url: str) -> None:
    qm = QueueManager(config(url), background=False, builtins=False)
    try:
        for bad in ("", "has space", "<script>", "x" * 65, 7):
            with pytest.raises(InvalidJob) as caught:
                await qm.add_job("t", {}, by=bad)  # type: ignore[arg-type]
            assert caught.value.field == "by"
            with pytest.raises(InvalidJob):
                await qm.cancel_job("job_x", by=bad)  # type: ignore[arg-type]
        assert await qm.list_jobs() == []  # nothing was written
        with pytest.raises(InvalidJob):
            await qm.get_job_events("job_x", limit=0)
        assert await qm.get_job_events("job_unknown") == []
    finally:
        await qm.store.close()


def test_the_sync_twin(url: str) -> None:
    qm = QueueManager(config(url), builtins=False)
    try:
        job_id = qm.sync.add_job("parked", {}, delay=3600, by="ops")
        assert qm.sync.cancel_job(job_id, by="admin:ann")
        assert qm.sync.retry_job(job_id, by="admin:bo")
        events = qm.sync.get_job_events(job_id)
        assert [(e.kind, e.by) for e in events] == [
            (EventKind.ENQUEUED, "ops"),
            (EventKind.CANCELLED, "admin:ann"),
            (EventKind.RETRIED, "admin:bo"),
        ]
        assert [e.to_dict()["kind"] for e in qm.sync.get_job_events(job_id, limit=1)] == [
            "enqueued"
        ]
    finally:
        qm.sync.close()
