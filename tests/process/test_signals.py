"""A worker process and its signals: first SIGTERM graceful, second immediate."""

from __future__ import annotations

import signal
import subprocess
from functools import partial
from pathlib import Path

from noormme_queue import JobStatus

from .conftest import StartWorker, add, get, wait_for


def is_completed(db_url: str, job_id: str) -> bool:
    return get(db_url, job_id).status is JobStatus.COMPLETED


def read_until(worker: subprocess.Popen[str], text: str) -> None:
    """Read the worker's log until ``text`` appears (it has handled the signal)."""
    assert worker.stdout is not None
    for line in worker.stdout:
        if text in line:
            return
    raise AssertionError(f"the worker exited without logging {text!r}")


def test_first_sigterm_lets_the_job_finish_and_claims_nothing_new(
    start_worker: StartWorker, env: dict[str, str], db_url: str
) -> None:
    gates = Path(env["TEST_GATE_DIR"])
    worker = start_worker()
    first = add(db_url, "gated", {"name": "first"})
    wait_for(lambda: (gates / "first.started").exists(), what="the job to start")
    worker.send_signal(signal.SIGTERM)
    read_until(worker, "stopping gracefully")
    late = add(db_url, "echo", {"late": True})
    (gates / "first").touch()  # now the in-flight job may finish
    assert worker.wait(timeout=30) == 0
    finished = get(db_url, first)
    assert finished.status is JobStatus.COMPLETED
    assert finished.result == "passed first"
    untouched = get(db_url, late)
    assert untouched.status is JobStatus.PENDING


def test_a_second_signal_puts_unfinished_jobs_back_at_once(
    start_worker: StartWorker, env: dict[str, str], db_url: str
) -> None:
    gates = Path(env["TEST_GATE_DIR"])
    worker = start_worker()
    job_id = add(db_url, "gated", {"name": "never"})
    wait_for(lambda: (gates / "never.started").exists(), what="the job to start")
    worker.send_signal(signal.SIGTERM)
    read_until(worker, "stopping gracefully")
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=30) == 0  # well before the 20 s grace period
    job = get(db_url, job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0 and job.history == ()  # no attempt spent


def test_worker_ids_are_unique_per_process_start(start_worker: StartWorker, db_url: str) -> None:
    seen = []
    for n in range(2):
        worker = start_worker()
        job_id = add(db_url, "echo", {"n": n})
        wait_for(partial(is_completed, db_url, job_id), what="the echo job")
        seen.append((worker.pid, get(db_url, job_id).worker_id))
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    (pid_a, id_a), (pid_b, id_b) = seen
    assert id_a != id_b
    assert f":{pid_a}:" in (id_a or "") and f":{pid_b}:" in (id_b or "")
