"""Live workers: the heartbeat service driven with a pinned clock (registers, renews, names
the jobs running, ages the dead out, goes at a graceful stop), the loop that runs it when
the manager runs in the background and not otherwise, ``list_workers`` and its sync twin,
and ``get_activity``'s per-queue minutes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from noormme_queue import (
    ActivityPoint,
    InvalidJob,
    Job,
    QueueActivity,
    QueueConfig,
    QueueManager,
    WorkerInfo,
)
from noormme_queue.core.clock import ManualClock
from noormme_queue.engine.heartbeat import HEARTBEAT_PERIOD, WORKER_TTL, Heartbeat

from ..waiting import wait_until

T0 = 1_800_000_000.0  # a whole minute


def manager(tmp_path: Path, clock: ManualClock, worker_id: str, **config: object) -> QueueManager:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    cfg = QueueConfig(database_url=url, cleanup_interval=0, **config)  # type: ignore[arg-type]
    return QueueManager(cfg, clock=clock, worker_id=worker_id, builtins=False, background=False)


async def test_a_worker_registers_renews_and_goes_at_a_graceful_stop(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    qm = manager(tmp_path, clock, "w-one", queues="default,emails=2", concurrency=3)
    gate = asyncio.Event()

    async def wait(job: Job) -> None:
        await gate.wait()

    qm.register_handler("wait", wait)
    qm.register_handler("echo", lambda job: job.payload)
    await qm.start()
    try:
        assert await qm.list_workers() == []  # no heartbeat yet: background=False
        report = await qm.heartbeat.run_once(clock.now())
        assert (report.jobs, report.aged_out) == (0, 0)
        (w,) = await qm.list_workers()
        assert isinstance(w, WorkerInfo)
        assert (w.id, w.concurrency, w.types, w.jobs) == ("w-one", 3, ("echo", "wait"), ())
        assert w.queues == ("default", "emails=2")
        assert w.started_at.timestamp() == T0 == w.heartbeat_at.timestamp()
        assert w.expires_at.timestamp() == T0 + WORKER_TTL

        job_id = await qm.add_job("wait", {})
        await wait_until(lambda: qm.worker.in_flight == 1, 10, "the job to start")
        clock.advance(HEARTBEAT_PERIOD)
        assert (await qm.heartbeat.run_once(clock.now())).jobs == 1
        (w,) = await qm.list_workers()
        assert w.jobs == (job_id,) and w.heartbeat_at.timestamp() == T0 + HEARTBEAT_PERIOD
        assert w.started_at.timestamp() == T0  # kept across beats
        gate.set()
    finally:
        await qm.stop()
    reader = manager(tmp_path, clock, "reader")
    try:
        assert await reader.list_workers() == []  # removed at the stop, not aged out
    finally:
        await reader.stop()


async def test_a_worker_that_stops_beating_ages_out_after_its_ttl(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    dead, alive = manager(tmp_path, clock, "dead"), manager(tmp_path, clock, "alive")
    try:
        await dead.heartbeat.run_once(clock.now())
        await alive.heartbeat.run_once(clock.now())
        clock.advance(WORKER_TTL)
        assert [w.id for w in await alive.list_workers()] == ["alive", "dead"]
        await alive.heartbeat.run_once(clock.now())  # alive beats; dead (killed) does not
        clock.advance(1)
        assert [w.id for w in await alive.list_workers()] == ["alive"]
        assert (await alive.heartbeat.run_once(clock.now())).aged_out == 1  # its row deleted
        twin = await asyncio.to_thread(alive.sync.list_workers)  # the sync twin
        assert [w.id for w in twin] == ["alive"]
    finally:
        await dead.stop()
        await alive.stop()


async def test_the_heartbeat_runs_in_the_background_only(tmp_path: Path) -> None:
    cfg = QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0)
    quiet = QueueManager(cfg, builtins=False, background=False, worker_id="quiet")
    running = QueueManager(cfg, builtins=False, worker_id="running")
    await quiet.start()
    await running.start()
    try:
        found: list[WorkerInfo] = []

        async def registered() -> bool:
            found[:] = await quiet.list_workers()
            return bool(found)

        await wait_until(registered, 10, "the background heartbeat to register")
        assert [w.id for w in found] == ["running"]
    finally:
        await running.stop()
        assert await quiet.list_workers() == []
        await quiet.stop()


async def test_activity_per_queue_and_minute(tmp_path: Path) -> None:
    clock = ManualClock(T0 + 10)
    qm = manager(tmp_path, clock, "w")
    qm.register_handler("echo", lambda job: job.payload)
    qm.register_handler("mail", lambda job: None, queue="emails")
    try:
        await qm.add_job("echo", {})
        await qm.add_job("mail", {})
        clock.set(T0 + 70)  # both wait 60 s
        await qm.start()
        await wait_until(lambda: _completed(qm), 10, "both jobs to complete")
        clock.set(T0 + 130)
        activity = await qm.get_activity(180)
        assert [a.queue for a in activity] == ["default", "emails"]
        default = activity[0]
        assert isinstance(default, QueueActivity) and len(default.points) == 3
        assert [p.start.timestamp() for p in default.points] == [T0, T0 + 60, T0 + 120]
        assert default.points[0] == ActivityPoint(default.points[0].start)  # nothing then
        assert default.points[1].started == 1 and default.points[1].completed == 1
        assert default.points[1].wait_avg == default.points[1].wait_max == 60.0
        twin = await asyncio.to_thread(qm.sync.get_activity, 120)  # the sync twin
        assert [p.start.timestamp() for p in twin[0].points] == [T0 + 60, T0 + 120]
        assert await qm.get_activity(60) == []  # nothing ran in the current minute
        with pytest.raises(InvalidJob, match="60 to 86400 seconds"):
            await qm.get_activity(10)
    finally:
        await qm.stop()


async def _completed(qm: QueueManager) -> bool:
    return (await qm.get_stats()).completed == 2


async def test_the_lease_keepers_step_beats_after_renewing_even_if_renewing_failed(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    qm = manager(tmp_path, clock, "keeper")
    calls: list[str] = []

    async def renew(now: float) -> None:
        calls.append("renew")
        raise RuntimeError("the store is down")

    heartbeat = Heartbeat.over(qm.store, qm.worker, qm.config, renew)
    try:
        with pytest.raises(RuntimeError, match="the store is down"):
            await heartbeat.keep(clock.now())
        assert calls == ["renew"]
        assert [w.id for w in await qm.list_workers()] == ["keeper"]  # it beat all the same
    finally:
        await heartbeat.stop()
        await qm.stop()
