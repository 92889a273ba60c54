"""Leases: renewed from a thread while handlers run, recovered when a worker disappears."""

from __future__ import annotations

import asyncio
import threading
import time

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.core.clock import ManualClock
from noormme_queue.core.errors import LeaseLost
from noormme_queue.core.job import AttemptOutcome
from noormme_queue.engine.rescuer import Rescuer
from noormme_queue.store.sqlite import SQLiteStore

from ..conftest import wait_status, wait_until


async def test_a_handler_that_blocks_the_loop_keeps_its_lease(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Lease 0.3 s, renewed every 0.1 s by the keeper thread. The handler blocks the event
    # loop for much longer; meanwhile another "worker" keeps trying to recover expired
    # leases. If renewal depended on the loop, the job would be recovered under it.
    qm = QueueManager(
        QueueConfig(database_url=db_url, lease_timeout=0.3, interval=30, cleanup_interval=0)
    )
    gate = threading.Event()
    recovered: list[str] = []

    async def hog(job: Job) -> str:
        gate.wait(timeout=30)  # deliberately blocking: a badly behaved handler
        return "done"

    def rival_worker() -> None:
        async def run() -> None:
            rival = SQLiteStore(tmp_path / "queue.db")
            await rival.open()
            rescuer = Rescuer(
                expired=lambda now, limit: rival.expired_leases(now=now, limit=limit),
                settle=lambda outcomes, now: rival.settle(outcomes, now=now),
                on_failed=lambda job, error: None,
                on_recovered=lambda: None,
            )
            while (await rival.stats()).processing == 0:  # the hog has started
                await asyncio.sleep(0.005)
            deadline = time.monotonic() + 1.5  # five lease periods
            while time.monotonic() < deadline:
                recovered.extend(
                    e.job.id for e in await rival.expired_leases(now=time.time(), limit=10)
                )
                await rescuer.run_once(time.time())
                await asyncio.sleep(0.02)
            await rival.close()

        try:
            asyncio.run(run())
        finally:
            gate.set()

    qm.register_handler("hog", hog)
    await qm.start()
    rival = threading.Thread(target=rival_worker)
    rival.start()
    try:
        job_id = await qm.add_job("hog", {})  # from here the loop blocks until the gate opens
        await asyncio.to_thread(rival.join)
        await wait_status(qm, job_id, "completed")
    finally:
        gate.set()
        await qm.stop()
    assert recovered == []
    job = await QueueManager(qm.config).get_job(job_id)
    assert job is not None and job.attempts == 1 and len(job.history) == 1


async def test_a_vanished_worker_s_job_is_recovered_and_run_again(
    config: QueueConfig, clock: ManualClock
) -> None:
    # A worker claims a job and dies (here: claims through the store and never renews).
    qm = QueueManager(config, clock=clock, background=False)
    job_id = await qm.add_job("resumable", {})
    await qm.store.claim(
        ["resumable"],
        1,
        now=clock.now(),
        lease_until=clock.now() + config.lease_timeout,
        worker_id="dead",
    )
    ran = asyncio.Event()
    qm.register_handler("resumable", lambda job: ran.set())
    await qm.start()
    try:
        report = await qm.rescuer.run_once(clock.now())
        held = await qm.get_job(job_id)
        assert held is not None and held.status is JobStatus.PROCESSING  # the lease holds
        assert (report.recovered, report.failed) == (0, 0)
        clock.advance(config.lease_timeout + 1)
        report = await qm.rescuer.run_once(clock.now())
        assert (report.recovered, report.failed) == (1, 0)
        await asyncio.wait_for(ran.wait(), 5)  # recovery woke the worker
        await wait_status(qm, job_id, "completed")
    finally:
        await qm.stop()
    job = await QueueManager(config).get_job(job_id)
    assert job is not None and job.attempts == 2  # the lost run counted
    assert [a.outcome for a in job.history] == [
        AttemptOutcome.LEASE_EXPIRED,
        AttemptOutcome.COMPLETED,
    ]


async def test_a_job_that_keeps_killing_its_worker_ends_failed(
    config: QueueConfig, clock: ManualClock
) -> None:
    qm = QueueManager(config, clock=clock, background=False)
    failures: list[tuple[str, BaseException]] = []

    class Poison:
        def process(self, job: Job) -> None:
            raise AssertionError("never reached: every worker dies first")

        def on_failure(self, job: Job, error: BaseException) -> None:
            failures.append((job.id, error))

    # Its last attempt: the worker running it dies (claimed, never renewed).
    job_id = await qm.add_job("poison", {}, max_attempts=1)
    await qm.store.claim(
        ["poison"], 1, now=clock.now(), lease_until=clock.now() + 1, worker_id="doomed"
    )
    qm.register_handler("poison", Poison())
    await qm.start()
    try:
        clock.advance(2)
        report = await qm.rescuer.run_once(clock.now())
        assert (report.recovered, report.failed) == (0, 1)
        job = await qm.get_job(job_id)
        assert job is not None and job.status is JobStatus.FAILED
        assert "lease expired" in (job.error or "")
        await wait_until(lambda: len(failures) == 1, what="on_failure")
        assert isinstance(failures[0][1], LeaseLost)
    finally:
        await qm.stop()


async def test_a_job_cancelled_elsewhere_stops_its_handler_here(config: QueueConfig) -> None:
    qm = QueueManager(config, background=False)
    started, stopped = asyncio.Event(), asyncio.Event()

    async def long(job: Job) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    qm.register_handler("long", long)
    await qm.start()
    try:
        job_id = await qm.add_job("long", {})
        await asyncio.wait_for(started.wait(), 5)
        other = QueueManager(qm.config)  # e.g. the dashboard, in another process
        assert await other.cancel_job(job_id)
        await other.stop()
        assert not stopped.is_set()  # nothing told this worker yet
        report = await qm.leases.run_once(qm.clock.now())  # the next renewal notices
        assert (report.extended, report.lost) == (0, 1)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        await qm.stop()
