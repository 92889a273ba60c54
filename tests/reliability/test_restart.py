"""Issue 3, point 8: jobs survive the death of their process.

Jobs are enqueued, the worker process is SIGKILLed in the middle of the run,
and a new process on the same file runs everything that was left: jobs that
were waiting, and (once their leases expire) jobs that were running when the
old one died. Jobs completed before the kill keep their results and history
exactly as they were.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager

from .procs import WorkerProcess, count, enqueue, executions, pid_of, prepare, wait_for, worker_env

pytestmark = pytest.mark.slow

JOBS = 500
KILL_AFTER = 100  # completed jobs


def _jobs(db: Path) -> dict[str, Job]:
    async def read() -> list[Job]:
        qm = QueueManager(QueueConfig(database_url=f"sqlite:///{db}"), builtins=False)
        try:
            return await qm.list_jobs(limit=JOBS)
        finally:
            await qm.stop()

    return {job.id: job for job in asyncio.run(read())}


def test_a_new_process_runs_what_a_killed_one_left(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    prepare(db)
    ids = enqueue(db, JOBS)
    env = worker_env(db, RECORD_SLEEP_MS="50")

    def completed() -> int:
        return count(db, "SELECT COUNT(*) FROM noormme_jobs WHERE status = 'completed'")

    first = WorkerProcess(env, tmp_path, "first")
    try:
        wait_for(lambda: completed() >= KILL_AFTER, 60, f"{KILL_AFTER} jobs to complete")
    finally:
        first.kill()
    before = _jobs(db)
    done_before = {i: j for i, j in before.items() if j.status is JobStatus.COMPLETED}
    running_at_kill = {i for i, j in before.items() if j.status is JobStatus.PROCESSING}
    waiting = {i for i, j in before.items() if j.status is JobStatus.PENDING}
    assert len(done_before) + len(running_at_kill) + len(waiting) == JOBS
    assert waiting, "the kill came too late to leave work behind"
    assert running_at_kill, "the kill found no job running"

    second = WorkerProcess(env, tmp_path, "second")
    try:
        wait_for(lambda: completed() == JOBS, 60, f"all {JOBS} jobs to complete")
    finally:
        assert second.stop() == 0, second.log()
    after = _jobs(db)
    assert sorted(after) == sorted(ids)
    # Completed before the kill: untouched, result and history and all.
    assert {i: after[i] for i in done_before} == done_before
    runs = executions(db)
    for job_id, job in after.items():
        assert job.status is JobStatus.COMPLETED
        n = int(job.payload["n"]) if isinstance(job.payload, dict) else -1
        assert job.result == {"n": n, "pid": runs[job_id][-1]}
        outcomes = [a.outcome.value for a in job.history]
        if job_id in running_at_kill:  # recovered after its lease expired, then run again
            assert outcomes == ["lease_expired", "completed"], outcomes
            assert pid_of(job.history[-1].worker_id) == second.pid
        elif job_id in waiting:
            assert outcomes == ["completed"]
            assert runs[job_id] == [second.pid]
    # Only jobs running when the first process died ran twice, and it ran them first.
    twice = {job_id for job_id, pids in runs.items() if len(pids) > 1}
    assert twice <= running_at_kill
    assert all(runs[job_id][0] == first.pid for job_id in twice)
