"""Peer libraries doing the same work in the same run.

- Huey's SQLite backend, the closest peer (a job queue on one SQLite file): its
  consumer runs the same no-op task with as many worker threads as our
  worker's concurrency; enqueue is one call per job, as ours.
- RQ and Celery on this machine's Redis (127.0.0.1:6379): RQ's in-process
  ``SimpleWorker`` (no fork per job), Celery's worker process with a thread
  pool of 5. Celery's drain is timed from its first finished task to its last,
  so its start-up is not counted against it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
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


def rq_redis(jobs: int) -> tuple[float, float]:
    """(enqueue jobs/s, drain jobs/s) of RQ with a SimpleWorker."""
    import redis
    from rq import Queue, SimpleWorker

    from .peer_tasks import rq_noop

    conn = redis.Redis(db=14)
    conn.flushdb()
    queue = Queue("bench", connection=conn)
    started = time.perf_counter()
    for i in range(jobs):
        queue.enqueue(rq_noop, i)
    enqueue = jobs / (time.perf_counter() - started)
    worker = SimpleWorker([queue], connection=conn)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    drain = jobs / (time.perf_counter() - started)
    conn.flushdb()
    return enqueue, drain


def celery_redis(jobs: int, root: Path) -> tuple[float, float]:
    """(enqueue jobs/s, drain jobs/s) of Celery on Redis with a 5-thread worker."""
    import redis

    from .peer_tasks import REDIS_DB_BROKER, REDIS_DB_COUNTS, celery_noop

    counts = redis.Redis(db=REDIS_DB_COUNTS)
    counts.flushdb()
    redis.Redis(db=REDIS_DB_BROKER).flushdb()
    started = time.perf_counter()
    for i in range(jobs):
        celery_noop.delay(i)
    enqueue = jobs / (time.perf_counter() - started)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.peer_tasks",
            "worker",
            "--pool=threads",
            "-c",
            "5",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while int(counts.get("done") or 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        first = time.perf_counter()
        while int(counts.get("done") or 0) < jobs and time.monotonic() < deadline:
            time.sleep(0.002)
        drain = jobs / (time.perf_counter() - first)
    finally:
        worker.terminate()
        worker.wait()
    counts.flushdb()
    return enqueue, drain
