"""Peer libraries doing the same work in the same run: Huey's SQLite backend.

Huey is the closest peer (a job queue on one SQLite file). Its consumer runs
the same no-op task with the same number of worker threads as our worker's
concurrency; enqueue is one call per job, as ours.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path


def huey_sqlite(jobs: int, workers: int) -> tuple[float, float]:
    """(enqueue jobs/s, drain jobs/s) of huey.SqliteHuey with a thread consumer."""
    from huey import SqliteHuey

    logging.getLogger("huey").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="nq-bench-huey-") as tmp:
        huey = SqliteHuey(filename=str(Path(tmp) / "huey.db"), results=False)
        done = threading.Event()
        lock = threading.Lock()
        count = 0

        @huey.task()  # type: ignore[untyped-decorator]
        def noop(i: int) -> None:
            nonlocal count
            with lock:
                count += 1
                if count == jobs:
                    done.set()

        started = time.perf_counter()
        for i in range(jobs):
            noop(i)
        enqueue = jobs / (time.perf_counter() - started)
        consumer = huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.001,
            max_delay=0.01,
            check_worker_health=False,
        )
        started = time.perf_counter()
        consumer.start()
        done.wait()
        drain = jobs / (time.perf_counter() - started)
        consumer.stop(graceful=True)
    return enqueue, drain
