"""Live workers, per-minute activity and the doctor's health report, on every backend (like
test_conformance.py): a heartbeat writes a worker's row, dead rows age out, the kept
minutes count starts and their wait per queue, and health names stuck leases and paused
queues."""

from __future__ import annotations

import time

from noormme_queue.core.job import AttemptOutcome
from noormme_queue.store import Completed, Failed, JobStore, MinuteActivity, WorkerBeat

from .conftest import T0, new_job
from .test_conformance import attempt, claim


def beat(worker_id: str = "w1", *, now: float = T0, ttl: float = 20.0, **kw: object) -> WorkerBeat:
    fields: dict[str, object] = {
        "host": "box",
        "pid": 42,
        "queues": None,
        "concurrency": 5,
        "types": ("email", "t"),
        "jobs": (),
        "started_at": T0 - 100,
    }
    fields.update(kw)
    return WorkerBeat(id=worker_id, expires_at=now + ttl, **fields)  # type: ignore[arg-type]


async def test_a_heartbeat_registers_a_worker_and_renews_its_row(store: JobStore) -> None:
    assert await store.workers(now=T0) == []
    await store.beat(beat(queues=("default", "emails=10"), jobs=("job_a",)), now=T0)
    (w,) = await store.workers(now=T0 + 1)
    assert (w.id, w.host, w.pid, w.concurrency) == ("w1", "box", 42, 5)
    assert w.queues == ("default", "emails=10") and w.types == ("email", "t")
    assert w.jobs == ("job_a",)
    assert w.started_at.timestamp() == T0 - 100 and w.heartbeat_at.timestamp() == T0
    assert w.expires_at.timestamp() == T0 + 20
    await store.beat(beat(jobs=(), now=T0 + 5), now=T0 + 5)
    (w,) = await store.workers(now=T0 + 6)
    assert w.jobs == () and w.queues is None and w.heartbeat_at.timestamp() == T0 + 5


async def test_a_worker_that_stops_beating_ages_out(store: JobStore) -> None:
    await store.beat(beat("dead", now=T0), now=T0)
    await store.beat(beat("alive", now=T0), now=T0)
    assert [w.id for w in await store.workers(now=T0 + 20)] == ["alive", "dead"]  # TTL inclusive
    assert [w.id for w in await store.workers(now=T0 + 20.5)] == []  # both expired, not deleted
    # the next heartbeat of a live one deletes the dead row
    assert await store.beat(beat("alive", now=T0 + 21), now=T0 + 21) == 1
    assert [w.id for w in await store.workers(now=T0 + 21)] == ["alive"]
    assert await store.forget_worker("alive") is True
    assert await store.forget_worker("alive") is False
    assert await store.workers(now=T0 + 21) == []


async def test_the_clock_skew_is_the_workers_clock_against_the_databases(
    store: JobStore,
) -> None:
    now = time.time()
    await store.beat(beat("ahead", now=now + 120), now=now + 120)
    await store.beat(beat("on-time", now=now), now=now)
    skews = {w.id: w.clock_skew for w in await store.workers(now=now)}
    assert 115 < skews["ahead"] < 125
    assert abs(skews["on-time"]) < 5


async def test_minutes_count_starts_and_their_wait_per_queue(store: JobStore) -> None:
    minute = T0 - T0 % 60  # a minute's start
    a = new_job(run_at=minute + 1, queue="default")
    b = new_job(run_at=minute + 2, queue="default")
    c = new_job(run_at=minute + 3, queue="emails")
    await store.enqueue([a, b, c])
    got = await claim(store, now=minute + 10)  # waits 9, 8 and 7 s
    assert len(got.jobs) == 3
    for job in got.jobs:
        ok = job.id != b.id
        outcome = (
            Completed(job.id, got.token, "null", attempt(1))
            if ok
            else Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "x"), None)
        )
        assert await store.settle([outcome], now=minute + 70) == [True]
    rows = await store.activity(since=minute)
    assert rows == [
        MinuteActivity(int(minute // 60), "default", 0, 0, 2, 17.0, 9.0),
        MinuteActivity(int(minute // 60), "emails", 0, 0, 1, 7.0, 7.0),
        MinuteActivity(int(minute // 60) + 1, "default", 1, 1, 0, 0.0, 0.0),
        MinuteActivity(int(minute // 60) + 1, "emails", 1, 0, 0, 0.0, 0.0),
    ]
    assert await store.activity(since=minute + 60) == rows[2:]


async def test_a_retried_start_waits_from_its_retry_time(store: JobStore) -> None:
    minute = T0 - T0 % 60
    job = new_job(run_at=minute)
    await store.enqueue([job])
    got = await claim(store, now=minute)
    retry = Failed(job.id, got.token, attempt(1, AttemptOutcome.FAILED, "x"), minute + 30)
    await store.settle([retry], now=minute + 1)
    assert len((await claim(store, now=minute + 45)).jobs) == 1  # due at +30, started at +45
    (row,) = await store.activity(since=minute)
    assert (row.started, row.wait_sum, row.wait_max) == (2, 15.0, 15.0)


async def test_health_names_stuck_leases_paused_queues_and_pending_types(
    store: JobStore,
) -> None:
    await store.enqueue([new_job("t"), new_job("t"), new_job("other", queue="emails")])
    await claim(store, limit=2, now=T0, lease=30.0)  # both leases end at T0 + 30
    await store.set_paused("emails", True, now=T0)
    health = await store.health(stuck_before=T0 + 29, limit=5)
    assert health.stuck_count == 0 and health.stuck == ()
    health = await store.health(stuck_before=T0 + 31, limit=1)
    assert health.stuck_count == 2 and len(health.stuck) == 1
    assert health.stuck[0].type == "t" and health.stuck[0].lease_until == T0 + 30
    assert health.stuck[0].worker_id == "w1"
    assert health.paused == (("emails", 1),)
    assert health.pending_types == ("other",)
    assert health.schema_version == health.code_version > 0
    assert abs(health.database_clock - time.time()) < 5
