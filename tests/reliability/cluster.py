"""Worker processes of ``limits_app`` on one database, and what their handlers recorded.

A :class:`Cluster` migrates the database (SQLite file or PostgreSQL schema), enqueues and
watches through a manager of its own that never runs a job (``qm.sync``, as a web process
would), starts real ``noormme-queue worker`` processes and stops them. :func:`read_runs`
merges the handlers' stamp files (see ``limits_app``) into one list of runs; the functions
below it measure those runs: the most running at once, the most started within a window.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from noormme_queue import Job, QueueConfig, QueueManager, QueueStats
from noormme_queue.manager import JobSpec

from .limits_app import build
from .procs import WorkerProcess, stop_all, wait_for, worker_env

APP = "tests.reliability.limits_app:create_manager"
READY = "queue started: worker"  # the worker's log line once it claims


@dataclass(slots=True)
class Run:
    """One handler run, as its process recorded it."""

    job_id: str
    type: str
    key: str | None
    pid: int
    start: float
    """``time.monotonic()`` when the handler began."""
    claimed: float
    """The store's ``started_at`` of the job (the claim's ``now``, epoch seconds)."""
    lag: float
    """Wall-clock seconds from ``claimed`` to the handler's start."""
    end: float | None = None
    """``time.monotonic()`` when the handler returned (``None``: it never did)."""


def read_runs(directory: Path) -> list[Run]:
    """Every run recorded in ``directory``, in start order."""
    runs: list[Run] = []
    for path in directory.glob("*.log"):
        pid = int(path.stem)
        open_runs: dict[str, Run] = {}
        for line in path.read_text().splitlines():
            kind, job_id, job_type, key, *times = line.split()
            if kind == "start":
                mono, wall, claimed = (float(t) for t in times)
                run = Run(job_id, job_type, None if key == "-" else key, pid, mono, claimed, 0.0)
                run.lag = wall - claimed
                open_runs[job_id] = run
                runs.append(run)
            else:
                open_runs.pop(job_id).end = float(times[0])
    return sorted(runs, key=lambda r: r.start)


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (one ending at ``t`` is closed at ``t``)."""
    events = sorted(e for a, b in intervals for e in ((a, 1), (b, -1)))  # -1 sorts first
    most = running = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def max_in_window(stamps: Sequence[float], width: float) -> int:
    """The most stamps in any window shorter than ``width`` (``t - s < width``)."""
    ordered = sorted(stamps)
    most = 0
    for j, t in enumerate(ordered):
        first = bisect.bisect_right(ordered, t - width)
        most = max(most, j - first + 1)
    return most


def finished(runs: Iterable[Run]) -> list[tuple[float, float]]:
    intervals = []
    for run in runs:
        assert run.end is not None, f"job {run.job_id} never ended in pid {run.pid}"
        intervals.append((run.start, run.end))
    return intervals


class Cluster:
    """Worker processes of ``limits_app`` on ``url``; a watching manager on the side."""

    def __init__(self, url: str, directory: Path, **settings: str) -> None:
        self.url = url
        self.directory = directory
        self.stamps = directory / "stamps"
        self.stamps.mkdir()
        self.env = worker_env(url, STAMP_DIR=str(self.stamps), **settings)
        self.workers: list[WorkerProcess] = []
        self.killed: set[int] = set()
        self.started = 0
        asyncio.run(_migrate(url))  # as a deploy step would, before any worker starts
        self.qm = build(QueueConfig(database_url=url, cleanup_interval=0), stamps=None)

    def spawn(self, **settings: str) -> WorkerProcess:
        """Start one more worker (``settings``: its own ``QUEUE_*`` variables)."""
        self.started += 1
        env = self.env | settings
        worker = WorkerProcess(env, self.directory, f"worker-{self.started}", app=APP)
        self.workers.append(worker)
        return worker

    def start(self, count: int = 3, **settings: str) -> list[WorkerProcess]:
        """Start ``count`` workers and wait until each one claims."""
        workers = [self.spawn(**settings) for _ in range(count)]
        self.wait_ready(workers)
        return workers

    def wait_ready(self, workers: Iterable[WorkerProcess]) -> None:
        for worker in workers:
            wait_for(partial(_ready_or_gone, worker), 30, f"{worker.name} to start")
            assert worker.alive(), worker.log()

    def running(self, workers: Iterable[WorkerProcess]) -> int:
        """How many of ``workers`` have started; fails if one not killed has exited."""
        for worker in workers:
            if worker.pid not in self.killed and not worker.alive():
                raise AssertionError(f"{worker.name} exited on its own:\n{worker.log()}")
        return sum(map(ready, workers))

    def by_pid(self, pid: int) -> WorkerProcess:
        return next(w for w in self.workers if w.pid == pid)

    def wait_holder(self, job_type: str, runs: int) -> WorkerProcess:
        """The live worker that started the latest ``job_type`` run, once it has started
        ``runs`` of them (a worker being stopped is never the holder)."""
        found: list[WorkerProcess] = []

        def held() -> bool:
            started = of_type(self.runs(), job_type)
            if not started:
                return False
            worker = self.by_pid(started[-1].pid)
            if worker.stopping or sum(r.pid == worker.pid for r in started) < runs:
                return False
            found.append(worker)
            return True

        wait_for(held, 30, f"a worker to run {runs} {job_type} jobs")
        return found[0]

    def add(self, jobs: Iterable[JobSpec]) -> list[str]:
        return self.qm.sync.add_jobs(jobs)

    def stats(self) -> QueueStats:
        return self.qm.sync.get_stats()

    def jobs(self) -> dict[str, Job]:
        found: dict[str, Job] = {}
        before = None
        while page := self.qm.sync.list_jobs(limit=10_000, before=before):
            found.update((j.id, j) for j in page)
            before = page[-1].id
        return found

    def wait_completed(self, total: int, timeout: float) -> None:
        """Until ``total`` jobs are completed; fails at once if any failed."""

        def done() -> bool:
            stats = self.stats()
            assert stats.failed == 0, self.failures()
            return stats.completed >= total

        try:
            wait_for(done, timeout, f"{total} jobs to complete")
        except AssertionError as exc:
            raise AssertionError(f"{exc} ({self.stats()})") from None

    def failures(self) -> list[tuple[str, str | None]]:
        return [(j.id, j.error) for j in self.jobs().values() if j.status == "failed"]

    def runs(self) -> list[Run]:
        return read_runs(self.stamps)

    def wait_runs(self, predicate: Callable[[list[Run]], bool], timeout: float, what: str) -> None:
        wait_for(lambda: predicate(self.runs()), timeout, what)

    def kill(self, worker: WorkerProcess) -> float:
        """SIGKILL ``worker``; returns the monotonic time by which it was dead."""
        self.killed.add(worker.pid)
        worker.kill()
        return time.monotonic()

    def stop(self) -> None:
        """Stop every worker not killed gracefully; each must exit cleanly."""
        graceful = [w for w in self.workers if w.pid not in self.killed]
        # A worker told to stop while it still imports has no signal handler yet (SIGTERM
        # then ends it as it would any program): wait until each one runs.
        self.wait_ready(w for w in graceful if not w.stopping)
        stop_all(graceful)
        for worker in graceful:
            assert worker.proc.returncode == 0, (worker.name, worker.proc.returncode, worker.log())

    def close(self) -> None:
        try:
            for worker in self.workers:
                if worker.alive():
                    worker.proc.kill()
                    worker.proc.wait()
        finally:
            self.qm.sync.close()


def ready(worker: WorkerProcess) -> bool:
    """The worker has started: it claims jobs."""
    return READY in worker.log()


def _ready_or_gone(worker: WorkerProcess) -> bool:
    return ready(worker) or not worker.alive()


async def _migrate(url: str) -> None:
    qm = QueueManager(QueueConfig(database_url=url), builtins=False)
    await qm.store.open()
    await qm.stop()


@contextmanager
def cluster(url: str, directory: Path, **settings: str) -> Iterator[Cluster]:
    """A :class:`Cluster`; every worker still running at the end is stopped gracefully."""
    c = Cluster(url, directory, **settings)
    try:
        yield c
        c.stop()
    finally:
        c.close()


def now() -> float:
    return time.monotonic()


def pids(runs: Iterable[Run]) -> set[int]:
    return {r.pid for r in runs}


def of_type(runs: Iterable[Run], job_type: str, key: Any = ...) -> list[Run]:
    return [r for r in runs if r.type == job_type and (key is ... or r.key == key)]
