"""The application the reliability tests run in real worker processes.

``python -m noormme_queue worker --app tests.reliability.app:create_manager``
(from the project root) builds a manager from the ``QUEUE_*`` environment with
two job types. The handler of ``record`` is ordinary user code: it writes a row
``(job_id, pid)`` to its own ``executions`` table in the same SQLite file, on its
own connection, committed before the handler returns. Because that commit and
the queue's "completed" are two transactions, a worker killed between them
leaves an execution the queue will run again: the executions table is the
tests' record of every time a job actually ran.

``RECORD_SLEEP_MS`` (default 0) makes each job sleep after recording its
execution, to widen the window in which a kill makes a job run twice.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.store.sqlite import sqlite_path_from_url

JOB_TYPE = "record"
GATE_TYPE = "gate"
EXECUTIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS executions ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, pid INTEGER NOT NULL)"
)


class Recorder:
    """Handler of ``record`` jobs: note the execution, return ``{"n": n, "pid": pid}``."""

    def __init__(self, path: Path, sleep: float) -> None:
        self.path = path
        self.sleep = sleep
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Generous timeout: the test's subject is the queue, not this table's locking.
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn

    def _insert(self, job_id: str) -> None:
        self._conn().execute(
            "INSERT INTO executions (job_id, pid) VALUES (?, ?)", (job_id, os.getpid())
        )

    async def __call__(self, job: Job) -> dict[str, int]:
        await asyncio.to_thread(self._insert, job.id)
        if self.sleep:  # work after the side effect: a kill now makes the job run again
            await asyncio.sleep(self.sleep)
        payload = job.payload
        n = int(payload["n"]) if isinstance(payload, dict) and "n" in payload else -1
        return {"n": n, "pid": os.getpid()}


async def wait_for_gate(job: Job) -> dict[str, str]:
    """Handler of ``gate`` jobs: run until the file named ``payload["gate"]`` exists.

    Holds a job in ``processing`` for as long as a test needs (no disk writes of its own).
    """
    assert isinstance(job.payload, dict)
    gate = Path(str(job.payload["gate"]))
    while not gate.exists():
        await asyncio.sleep(0.02)
    return {"gate": str(gate)}


def create_executions_table(path: Path) -> None:
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(EXECUTIONS_DDL)
    finally:
        conn.close()


def create_manager() -> QueueManager:
    config = QueueConfig.from_env()
    path = sqlite_path_from_url(config.database_url)
    qm = QueueManager(config, builtins=False)
    sleep = float(os.environ.get("RECORD_SLEEP_MS", "0")) / 1000
    qm.register_handler(JOB_TYPE, Recorder(path, sleep))
    qm.register_handler(GATE_TYPE, wait_for_gate)
    return qm
