"""Issue 11, point 7: the SIGKILL torture of ``test_torture`` with a concurrency limit on.

Three workers (concurrency 5 each) drain jobs of a type limited to 2 processing at once per
``limit_key`` (4 keys: at most 8 running of the 15 slots), falling due over 5 s, while a
killer SIGKILLs a random running worker every 0.3-1 s and starts a replacement, until every
job is done (or ten kills). Afterwards nothing may be lost (every job completed, a repeat
only ever after a kill, the saved result the last run's), and no key may ever have had more
than 2 handlers running at once.

What "running" means for a killed worker: its handler ends with the process, so its run is
counted from its start stamp to the moment the test saw the process dead. Its job stays
``processing`` in the store, holding its slot of the limit, until the lease expires and a
rescuer hands it out again; that is later than the kill, so counting the run until the kill
counts less than the store does, never more, and the limit must hold among every run.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path

import pytest

from .cluster import Run, cluster, max_overlap, now, of_type, ready
from .limits_app import CONCURRENCY_LIMIT, KEYED
from .procs import pid_of, wait_for

pytestmark = pytest.mark.slow

JOBS = 250
SPREAD = 5.0  # seconds over which the jobs fall due
KEYS = [f"tenant:{i}" for i in range(4)]
WORKERS = 3
KILL_PHASE = 45.0  # seconds of kills at most
MAX_KILLS = 10  # each kill of a worker holding slots stalls their keys for a lease: enough
DRAIN = 60.0
MAX_ATTEMPTS = 50  # no job runs out of attempts by bad luck (each kill of its worker spends one)


@pytest.mark.timeout(240)
def test_sigkilled_workers_lose_nothing_and_keep_the_limit(limits_url: str, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    died: dict[int, float] = {}  # pid -> when the test saw it dead (monotonic)
    with cluster(limits_url, tmp_path) as c:
        workers = c.start(WORKERS)
        # Due over SPREAD seconds, whatever the backend's speed: the kills go on that long.
        ids = c.add(
            [
                (
                    KEYED,
                    {"ms": 150},
                    {
                        "limit_key": KEYS[i % len(KEYS)],
                        "max_attempts": MAX_ATTEMPTS,
                        "delay": SPREAD * i / JOBS,
                    },
                )
                for i in range(JOBS)
            ]
        )

        def done() -> bool:
            return c.stats().completed == JOBS

        t0 = now()
        while not done() and now() - t0 < KILL_PHASE and len(died) < MAX_KILLS:
            time.sleep(rng.uniform(0.3, 1.0))  # the kill cadence: the workload, not a wait
            # Kill a worker that runs jobs (one still starting runs nothing: on a busy machine
            # a PostgreSQL worker takes longer to start than the kill cadence), and leave one
            # running, so the work goes on between kills.
            wait_for(lambda: c.running(workers) >= 2, 60, "two workers to run")
            index = rng.choice([i for i, w in enumerate(workers) if ready(w)])
            died[workers[index].pid] = c.kill(workers[index])
            workers[index] = c.spawn()
            assert workers[index].pid not in died  # a reused pid would merge two records
        kill_phase = now() - t0
        c.wait_completed(JOBS, DRAIN)
        jobs, stats = c.jobs(), c.stats()
    assert stats.completed == stats.total == JOBS == len(jobs)
    assert set(jobs) == set(ids)  # none lost, none made up

    runs = of_type(c.runs(), KEYED)
    by_job: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_job[run.job_id].append(run)
    assert set(by_job) == set(ids), "a completed job has no recorded run"
    recovered = twice = 0
    for job_id, job in jobs.items():
        job_runs = by_job[job_id]
        for run in job_runs[:-1]:  # a repeat is only ever the consequence of a kill
            assert run.pid in died, f"{job_id} ran again after pid {run.pid}, which was not killed"
        outcomes = [a.outcome.value for a in job.history]
        assert outcomes[-1] == "completed", (job_id, outcomes)
        assert set(outcomes[:-1]) <= {"lease_expired"}, (job_id, outcomes)
        assert len(job.history) == job.attempts >= len(job_runs), (job_id, outcomes, job_runs)
        # The saved result is the last run's, written by the process that ran it.
        assert job.result == {"pid": job_runs[-1].pid}
        assert pid_of(job.history[-1].worker_id) == job_runs[-1].pid
        recovered += len(job.history) > 1
        twice += len(job_runs) > 1

    def until(run: Run) -> float:
        if run.end is not None:
            return run.end
        assert run.pid in died, f"job {run.job_id} never ended in live pid {run.pid}"
        return died[run.pid]

    most = {key: max_overlap((r.start, until(r)) for r in runs if r.key == key) for key in KEYS}
    assert most == dict.fromkeys(KEYS, CONCURRENCY_LIMIT), most  # reached, never passed
    print(
        f"seed {seed}: {len(died)} kills in {kill_phase:.1f}s, {recovered} jobs recovered "
        f"after a kill, {twice} ran twice (first run by a killed worker)"
    )
    # The kills landed while jobs were running; otherwise this test proved nothing.
    assert len(died) >= 5
    assert recovered > 0
    assert twice > 0
