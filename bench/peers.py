"""Peer libraries doing the same work in the same run.

- Huey's SQLite backend, the closest peer (a job queue on one SQLite file): its
  consumer runs the same no-op task with as many worker threads as our
  worker's concurrency; enqueue is one call per job, as ours.
- RQ and Celery on this machine's Redis (127.0.0.1:6379): RQ's in-process
  ``SimpleWorker`` (no fork per job), Celery's worker process with a thread
  pool of 5. Celery's drain is timed from its first finished task to its last,
  so its start-up is not counted against it.
- On PostgreSQL, pgqueuer and procrastinate (``PgPeer`` below; bench/postgres.py runs them
  beside the queue, figure by figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
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


# -- PostgreSQL peers --------------------------------------------------------------------------
#
# Each runs in a fresh schema of the same server (``search_path`` first), with the same no-op
# job {"i": n} and a pool of up to 10 connections for producers (ours: 10). ``drain`` fills
# nothing: the caller enqueues the jobs in bulk first, then times start -> every job done.


class PgPeer:
    """One PostgreSQL queue library behind the calls the benchmark makes."""

    name = ""
    default_concurrency = 1  # what a drain with ``concurrency=None`` amounts to, in jobs at once
    defaults = ""  # its worker defaults, said in the report

    def __init__(self, base: str, schema: str) -> None:
        self.base, self.schema = base, schema

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def enqueue(self, payload: dict[str, int]) -> None:
        raise NotImplementedError

    async def enqueue_many(self, payloads: list[dict[str, int]]) -> None:
        raise NotImplementedError

    async def work(
        self, on_job: Callable[[dict[str, int]], bool], concurrency: int | None, drain: bool
    ) -> None:
        """Run a worker calling ``on_job(payload)`` for each job, until it returns True
        (``drain``: until the queue is empty) with ``concurrency`` (None: its defaults)."""
        raise NotImplementedError


class PgQueuer(PgPeer):
    """pgqueuer on asyncpg (its default driver): the producers share an asyncpg pool; the
    worker is its QueueManager on one connection, as ``pgq run`` makes it."""

    name = "pgqueuer"
    default_concurrency = 10
    defaults = "batch_size=10 per dequeue, no cap on jobs at once (max_concurrent_tasks=None)"

    async def open(self) -> None:
        import asyncpg
        from pgqueuer import Queries
        from pgqueuer.db import AsyncpgPoolDriver

        settings = {"search_path": self.schema}
        self.pool = await asyncpg.create_pool(self.base, max_size=10, server_settings=settings)
        self.queries = Queries(AsyncpgPoolDriver(self.pool))
        if not await self.queries.schema_is_installed():
            await self.queries.install()

    async def close(self) -> None:
        await self.pool.close()

    async def enqueue(self, payload: dict[str, int]) -> None:
        await self.queries.enqueue("noop", json.dumps(payload).encode())

    async def enqueue_many(self, payloads: list[dict[str, int]]) -> None:
        n = len(payloads)
        await self.queries.enqueue(
            ["noop"] * n, [json.dumps(p).encode() for p in payloads], [0] * n
        )

    async def work(
        self, on_job: Callable[[dict[str, int]], bool], concurrency: int | None, drain: bool
    ) -> None:
        import asyncpg
        from pgqueuer import Queries, QueueManager
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.models import Job as PgqJob
        from pgqueuer.types import QueueExecutionMode

        conn = await asyncpg.connect(self.base, server_settings={"search_path": self.schema})
        qm = QueueManager(Queries(AsyncpgDriver(conn)))

        @qm.entrypoint("noop")  # type: ignore[untyped-decorator,unused-ignore]
        async def noop(job: PgqJob) -> None:
            if on_job(json.loads(job.payload or b"{}")):
                qm.shutdown.set()

        mode = QueueExecutionMode.drain if drain else QueueExecutionMode.continuous
        try:
            await qm.run(batch_size=concurrency or 10, mode=mode)
        finally:
            await conn.close()


class Procrastinate(PgPeer):
    """procrastinate 3 on psycopg (its connector; a pool of up to 10), the worker of
    ``App.run_worker_async``."""

    name = "procrastinate"
    default_concurrency = 1
    defaults = "concurrency=1, LISTEN/NOTIFY on, polling every 5 s as a fallback"

    async def open(self) -> None:
        import procrastinate

        logging.getLogger("procrastinate").setLevel(logging.CRITICAL)
        from .fresh import schema_url

        connector = procrastinate.PsycopgConnector(
            conninfo=schema_url(self.base, self.schema), max_size=10
        )
        self.app = procrastinate.App(connector=connector)
        self.on_job: Callable[[dict[str, int]], bool] = lambda payload: False
        self.stop: Callable[[], None] = lambda: None

        @self.app.task(name="noop")  # type: ignore[untyped-decorator,unused-ignore]
        async def noop(**payload: int) -> None:
            if self.on_job(payload):
                self.stop()

        self.task = noop
        await self.app.open_async()
        async with connector.pool.connection() as conn:
            installed = await conn.execute("SELECT to_regclass('procrastinate_jobs')")
            if (await installed.fetchone()) == (None,):
                await self.app.schema_manager.apply_schema_async()

    async def close(self) -> None:
        await self.app.close_async()

    async def enqueue(self, payload: dict[str, int]) -> None:
        await self.task.defer_async(**payload)

    async def enqueue_many(self, payloads: list[dict[str, int]]) -> None:
        await self.task.batch_defer_async(*payloads)  # type: ignore[arg-type,unused-ignore]

    async def work(
        self, on_job: Callable[[dict[str, int]], bool], concurrency: int | None, drain: bool
    ) -> None:
        self.on_job = on_job
        worker = asyncio.create_task(
            self.app.run_worker_async(concurrency=concurrency or 1, wait=not drain)
        )
        if not drain:  # a drain ends by itself once the queue is empty (wait=False)
            self.stop = lambda: None if worker.cancel() else None  # noqa: RUF034
        with contextlib.suppress(asyncio.CancelledError):
            await worker


PG_PEERS: tuple[type[PgPeer], ...] = (PgQueuer, Procrastinate)


class Ours(PgPeer):
    """noormme-queue behind the same calls: one QueueManager per role (producer, worker)."""

    name = "noormme-queue"
    default_concurrency = 5
    defaults = "concurrency=5, batch_size=10"

    async def open(self) -> None:
        from noormme_queue import QueueConfig, QueueManager

        from .fresh import schema_url

        # No schema: ``base`` is the whole URL (a SQLite file too; bench/trees.py).
        self.url = schema_url(self.base, self.schema) if self.schema else self.base
        self.qm = QueueManager(
            QueueConfig(database_url=self.url, cleanup_interval=0), builtins=False
        )

    async def close(self) -> None:
        await self.qm.stop()

    async def enqueue(self, payload: dict[str, int]) -> None:
        await self.qm.add_job("noop", payload)

    async def enqueue_many(self, payloads: list[dict[str, int]]) -> None:
        await self.qm.add_jobs([("noop", p) for p in payloads])

    async def work(
        self, on_job: Callable[[dict[str, int]], bool], concurrency: int | None, drain: bool
    ) -> None:
        from noormme_queue import Job, QueueConfig, QueueManager

        # The worker waits for NOTIFY, not a poll: a poll every 60 s could not start a job
        # within milliseconds.
        config = QueueConfig(database_url=self.url, cleanup_interval=0, interval=60.0)
        if concurrency is not None:  # as many claimed at once as it runs
            config = dataclasses.replace(config, concurrency=concurrency, batch_size=concurrency)
        worker = QueueManager(config, builtins=False)
        finished = asyncio.Event()
        started = 0

        async def noop(job: Job) -> None:
            nonlocal started
            started += 1
            if on_job(job.payload):
                finished.set()

        worker.register_handler("noop", noop)
        await worker.start()
        await finished.wait()
        while drain and (await worker.get_stats()).completed < started:  # every outcome saved
            await asyncio.sleep(0.001)
        await worker.stop()


def counting_to(jobs: int) -> Callable[[dict[str, int]], bool]:
    """A handler's body for a drain: True at the ``jobs``-th call."""
    seen = 0

    def on_job(payload: dict[str, int]) -> bool:
        nonlocal seen
        seen += 1
        return seen >= jobs

    return on_job


async def timed(peer: PgPeer, measured: Callable[[], Awaitable[object]]) -> float:
    """Seconds ``measured`` takes on an opened ``peer`` that has written one job already
    (connections made, statements prepared); the peer is closed afterwards."""
    await peer.open()
    try:
        await peer.enqueue({"i": -1})
        started = time.perf_counter()
        await measured()
        return time.perf_counter() - started
    finally:
        await peer.close()


async def one_by_one(peer: PgPeer, jobs: int) -> float:
    async def run() -> None:
        for i in range(jobs):
            await peer.enqueue({"i": i})

    return await timed(peer, run)


async def producers(peer: PgPeer, count: int, each: int) -> float:
    async def producer(n: int) -> None:
        for i in range(each):
            await peer.enqueue({"p": n, "i": i})

    async def run() -> None:
        await asyncio.gather(*(producer(n) for n in range(count)))

    return await timed(peer, run)


async def bulk(peer: PgPeer, jobs: int) -> float:
    payloads = [{"i": i} for i in range(jobs)]
    return await timed(peer, lambda: peer.enqueue_many(payloads))


async def fill(peer: PgPeer, jobs: int) -> None:
    await peer.open()
    try:
        await peer.enqueue_many([{"i": i} for i in range(jobs)])
    finally:
        await peer.close()


async def drain(peer: PgPeer, jobs: int, concurrency: int | None) -> float:
    """Seconds from starting a worker on ``jobs`` waiting jobs until all are done."""
    await fill(peer, jobs)
    await peer.open()
    try:
        started = time.perf_counter()
        await peer.work(counting_to(jobs), concurrency, drain=True)
        return time.perf_counter() - started
    finally:
        await peer.close()


async def idle_latencies(worker: PgPeer, producer: PgPeer, samples: int) -> list[float]:
    """Enqueue -> handler start, in ms, with the worker idle when each job arrives (the
    worker and the producer on their own connections, in this process)."""
    arrived = asyncio.Event()
    latencies: list[float] = []

    def on_job(payload: dict[str, int]) -> bool:
        if "sent_ns" in payload:
            latencies.append((time.monotonic_ns() - payload["sent_ns"]) / 1e6)
        arrived.set()
        return len(latencies) >= samples

    await worker.open()
    await producer.open()
    try:
        running = asyncio.create_task(worker.work(on_job, None, drain=False))
        await producer.enqueue({"i": -1})  # the worker's first job: it is up
        await arrived.wait()
        for _ in range(samples):
            arrived.clear()
            await asyncio.sleep(0.005)  # the worker is idle when the job arrives
            await producer.enqueue({"sent_ns": time.monotonic_ns()})
            await arrived.wait()
        await running
    finally:
        await producer.close()
        await worker.close()
    return latencies


LIBRARIES: tuple[type[PgPeer], ...] = (Ours, *PG_PEERS)


def peer_named(name: str) -> type[PgPeer]:
    return next(peer for peer in LIBRARIES if peer.name == name)


def worker_rss_mb(name: str, base: str, schema: str, jobs: int) -> float:
    """Peak RSS of a worker process of ``name`` (its defaults) draining ``jobs`` jobs that
    wait in ``schema``."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.peers", name, base, schema, str(jobs)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(child.stdout.split()[-1])


def main() -> None:
    """The worker process of ``worker_rss_mb``: prints its peak RSS in MB when done."""
    from .measure import peak_rss_mb

    name, base, schema, jobs = sys.argv[1:5]
    peer = peer_named(name)(base, schema)

    async def run() -> None:
        await peer.open()
        await peer.work(counting_to(int(jobs)), None, drain=True)
        await peer.close()

    asyncio.run(run())
    print(f"{peak_rss_mb():.1f}")


if __name__ == "__main__":
    main()
