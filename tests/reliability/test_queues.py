"""Issue 11, point 7: routing and pause across worker processes.

Three ``noormme-queue worker`` processes (concurrency 5 each) on one database, SQLite or
PostgreSQL, each told which queues to consume by ``QUEUE_QUEUES``; the queue is paused and
resumed from the test process, a process of its own that runs no jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from noormme_queue import Job

from .cluster import cluster, finished, max_overlap, now, of_type, pids
from .limits_app import EMAILS, MAIL, PLAIN
from .procs import wait_for

pytestmark = pytest.mark.slow

DRAIN = 60.0


def claim_time(job: Job) -> float:
    """The ``now`` of the claim that took ``job`` (run once): the claim stamps it on the row
    as ``started_at``, and a settle leaves it. Not the attempt's ``started_at`` in the
    history: that is when its slot began, later, by tens of milliseconds on a loaded machine
    (a mail claimed just before the pause then seemed taken after it)."""
    assert job.attempts == 1 and job.started_at is not None, job
    return job.started_at.timestamp()


@pytest.mark.timeout(120)
def test_workers_take_only_the_queues_they_consume(limits_url: str, tmp_path: Path) -> None:
    with cluster(limits_url, tmp_path) as c:
        default_only = c.start(2, QUEUE_QUEUES="default")
        [emails] = c.start(1, QUEUE_QUEUES=f"{EMAILS}=2")
        # The mails first: the oldest jobs, the first any worker that may take them takes.
        mails = c.add([(MAIL, {"ms": 100})] * 20)
        plain = c.add([(PLAIN, {"ms": 20})] * 40)
        c.wait_completed(len(mails) + len(plain), DRAIN)
        jobs = c.jobs()
    assert {jobs[i].queue for i in mails} == {EMAILS}
    assert {jobs[i].queue for i in plain} == {"default"}
    runs = c.runs()
    assert pids(of_type(runs, MAIL)) == {emails.pid}
    assert pids(of_type(runs, PLAIN)) <= {w.pid for w in default_only}
    # emails=2: two of its slots for the queue, however many the worker has.
    assert max_overlap(finished(of_type(runs, MAIL))) == 2


@pytest.mark.timeout(120)
def test_a_paused_queue_is_not_taken_until_resumed(limits_url: str, tmp_path: Path) -> None:
    # A poll interval longer than the test: after the resume, jobs start because the
    # workers were woken. emails=1 per worker: the mails drain slowly enough to pause midway.
    settings = {"QUEUE_INTERVAL": "60000", "QUEUE_QUEUES": f"default,{EMAILS}=1"}
    with cluster(limits_url, tmp_path, **settings) as c:
        c.start(3)
        mails = c.add([(MAIL, {"ms": 200})] * 30)
        c.wait_runs(lambda runs: bool(of_type(runs, MAIL)), 30, "a mail job to start")
        assert c.qm.sync.pause_queue(EMAILS) is True
        paused_at = time.time()  # the clock the workers stamp their claims with
        held_new = set(c.add([(MAIL, {"ms": 200})] * 10))  # enqueued while paused
        # Every worker claims again while the queue is paused, for the plain jobs that keep
        # coming (and once its mail is done: each worker's emails slot is free).
        plain = c.add([(PLAIN, {"ms": 10})] * 30)

        def settled() -> bool:  # the plain jobs done, no mail running
            jobs = c.jobs()
            return all(jobs[i].status == "completed" for i in plain) and not any(
                jobs[i].status == "processing" for i in mails
            )

        wait_for(settled, DRAIN, "the plain jobs, and no mail running")
        jobs = c.jobs()
        # A claim already under way when the pause committed may still take a mail: its
        # time is from before the pause. None that began after it took one.
        taken = {i for i in mails if jobs[i].status != "pending"}
        assert all(claim_time(jobs[i]) <= paused_at for i in taken)
        held = (set(mails) - taken) | held_new
        assert set(mails) - taken, "every mail was claimed before the pause"
        assert {(jobs[i].status, jobs[i].attempts) for i in held} == {("pending", 0)}
        assert {r.job_id for r in of_type(c.runs(), MAIL)} <= taken
        assert [q.paused for q in c.qm.sync.list_queues() if q.name == EMAILS] == [True]
        resumed_at = now()
        assert c.qm.sync.resume_queue(EMAILS) is True
        c.wait_completed(len(taken) + len(plain) + len(held), 30)  # half the poll interval
        jobs = c.jobs()
    late = [r for r in of_type(c.runs(), MAIL) if r.job_id in held]
    assert sorted(r.job_id for r in late) == sorted(held)  # each ran once, after the resume
    assert min(r.start for r in late) > resumed_at
    assert {jobs[i].attempts for i in held} == {1}
