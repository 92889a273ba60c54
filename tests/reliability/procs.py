"""Helpers of the reliability tests: real worker processes, and a look into the file.

Workers run the real command line, ``python -m noormme_queue worker --app
tests.reliability.app:create_manager``, from the project root, configured only
through ``QUEUE_*`` variables. Their log goes to a file (a pipe nobody reads
would fill up and block them). The test process reads the database with its
own plain ``sqlite3`` connection, as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from noormme_queue import QueueConfig, QueueManager

from .. import waiting

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.reliability.app:create_manager"
POLL = 0.05  # how often a condition is re-checked; never a wait for a race to settle


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """tests/waiting.py's wait, re-checking every POLL seconds."""
    waiting.wait_for(predicate, timeout, what, poll=POLL)


def worker_env(db: Path | str, **settings: str) -> dict[str, str]:
    """The environment of a worker on the SQLite file ``db``, or on the database URL ``db``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "RECORD_"))}
    env.update(
        QUEUE_DATABASE_URL=db if isinstance(db, str) else f"sqlite:///{db}",
        QUEUE_LEASE_TIMEOUT="2000",
        QUEUE_INTERVAL="200",
        QUEUE_CLEANUP_INTERVAL="0",
        QUEUE_SHUTDOWN_TIMEOUT="5000",
        PYTHONPATH=str(ROOT),
        COLUMNS="1000",  # keep log lines (and the paths in them) whole
    )
    env.update(settings)
    return env


class WorkerProcess:
    """One ``noormme-queue worker`` process (of the application ``app``)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, name: str, app: str = APP) -> None:
        self.name = name
        self._terminated = False
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "noormme_queue", "worker", "--app", app],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._log.close()  # the child holds its own descriptor

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stopping(self) -> bool:
        """Told to stop (SIGTERM sent), or exited."""
        return self._terminated or not self.alive()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no last transaction."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        """One SIGTERM: a graceful stop (a second one would mean "stop now")."""
        if not self._terminated and self.alive():
            self._terminated = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful stop) and wait for the exit status."""
        self.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"{self.name} did not stop within {timeout}s:\n{self.log()}"
            ) from exc


@contextmanager
def connect(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def status_counts(db: Path) -> dict[str, int]:
    return {s: n for s, n in query(db, "SELECT status, COUNT(*) FROM noormme_jobs GROUP BY 1")}


def stop_all(workers: list[WorkerProcess]) -> None:
    """Stop workers together (each gets its grace period at the same time)."""
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.stop()


def count(db: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(query(db, sql, params)[0][0])


def pid_of(worker_id: str | None) -> int:
    """The process id in a worker id (``host:pid:suffix``)."""
    assert worker_id is not None
    match = re.fullmatch(r".*:(\d+):[0-9a-f]+", worker_id)
    assert match, worker_id
    return int(match.group(1))


def executions(db: Path) -> dict[str, list[int]]:
    """job id -> pids of the processes that ran it, in order."""
    runs: dict[str, list[int]] = {}
    for job_id, pid in query(db, "SELECT job_id, pid FROM executions ORDER BY seq"):
        runs.setdefault(job_id, []).append(pid)
    return runs


def prepare(db: Path) -> None:
    """Create the queue's schema and the app's executions table, as a deploy step would."""
    from .app import create_executions_table

    async def migrate() -> None:
        qm = QueueManager(QueueConfig(database_url=f"sqlite:///{db}"), builtins=False)
        await qm.store.open()
        await qm.stop()

    asyncio.run(migrate())
    create_executions_table(db)


def enqueue(db: Path, count: int, *, max_attempts: int = 3, first: int = 0) -> list[str]:
    """``count`` jobs of type ``record`` with payload ``{"n": first + i}``, in one transaction."""
    from .app import JOB_TYPE

    async def add() -> list[str]:
        qm = QueueManager(QueueConfig(database_url=f"sqlite:///{db}"), builtins=False)
        try:
            return await qm.add_jobs(
                [(JOB_TYPE, {"n": first + i}, {"max_attempts": max_attempts}) for i in range(count)]
            )
        finally:
            await qm.stop()

    return asyncio.run(add())


@contextmanager
def tmpfs(where: Path, *options: str) -> Iterator[Path]:
    """A fresh tmpfs mounted at ``where`` (root only), unmounted afterwards.

    Fails loudly, never skips: the fault tests must run wherever the suite runs (CI is root).
    """
    where.mkdir(parents=True, exist_ok=True)
    run_mount("-t", "tmpfs", "-o", ",".join(("nosuid", "nodev", *options)), "tmpfs", str(where))
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], capture_output=True, check=False)
        if done.returncode != 0:  # still busy (a failed test left a process behind)
            subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, mode: str) -> None:
    run_mount("-o", f"remount,{mode}", str(where))


def run_mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(
            f"mount {' '.join(args)} failed ({done.stderr.strip()}): the fault tests need root "
            "and mount(8); they fail rather than skip so that CI cannot pass them silently"
        )
