"""The PostgreSQL job store: many workers on many machines, one database.

Same protocol and semantics as the SQLite store (``store/sqlite/`` is the reference):
claims are one statement that locks due jobs with ``FOR UPDATE SKIP LOCKED`` and marks
them ``processing``, so concurrent workers never wait on each other nor take the same job;
every later transition is a compare-and-set on ``status`` and ``claim_token``; ``now`` is
always a parameter. Enqueue, retry and recovery send ``pg_notify`` in the statement that
makes work available, so listeners in other processes wake at once. The statements are in
``sql.py``; this module is the plumbing around them.

Threads and event loops. The store is called from the worker's event loop and, by the
lease keeper, from another thread running its own loop; the sync face may bring a third.
An ``AsyncConnectionPool`` belongs to the loop it was opened on, so it would need one pool
per loop. Instead every operation runs a plain function of a connection on the store's
threads (``pool.py``). Measured on the 2-vCPU dev VM, the thread hop plus pool checkout add
~75 µs to an operation (a bare ``SELECT 1``: 100 µs through the store, 25 µs raw), small
beside a write's commit (0.5-0.9 ms, the WAL flush), and most operations are one statement
in autocommit mode, so a sequential ``add_job`` is one round trip: it runs at raw psycopg's
speed (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ...core.errors import ConfigError, StoreError, StoreUnavailable
from ...core.events import PYTHON, JobEvent
from ...core.job import Job, JobStatus, QueueStats
from ...core.retry import after_manual_retry
from ...core.threads import run_sync
from ..base import (
    Claim,
    Expired,
    FinishedCount,
    NewJob,
    Outcome,
)
from ..events import cancelled, dumps, read_events, retried, unreadable
from ..rows import (
    SCHEDULED,
    Unreadable,
    claim_order,
    listed_statuses,
    makes_due,
    minute_buckets,
    read_row,
    read_rows,
    row_to_job,
    stats_of,
)
from . import schema as ddl
from . import sql
from .caller import CallerTransactions
from .claim import Ready, claim_planned, claim_ready, less_taken, read_ready, ready_args
from .connect import Server, migrate
from .inserts import insert_jobs
from .listener import Listening
from .pool import Conn, Runner, records
from .presence import PresenceOperations
from .queues import LIMITS_MAX_AGE, QueueOps
from .schedules import ScheduleOperations
from .settling import applied, settle_params

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")

DEFAULT_MAX_CONNECTIONS = 10
POOL_TIMEOUT = 30.0  # seconds an operation waits for a free connection
ANALYZE_AFTER_ROWS = 1000  # an enqueue this large refreshes the planner's statistics


def _claim_params(
    types: Sequence[str], limit: int, now: float, lease_until: float, worker_id: str
) -> dict[str, Any]:
    """A claim's parameters, its new token among them."""
    return {
        "token": uuid.uuid4().hex,
        "worker_id": worker_id,
        "lease_until": lease_until,
        "now": now,
        "types": list(types),
        "limit": limit,
    }


class PostgresStore(QueueOps, CallerTransactions, ScheduleOperations, PresenceOperations):
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = POOL_TIMEOUT,
    ) -> None:
        if max_connections < 1:
            raise ConfigError("max_connections must be at least 1")
        self._server = Server.from_url(url)
        self.url = url
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self._runner: Runner | None = None
        self._open_lock = threading.Lock()
        self._sender = uuid.uuid4().hex  # tags our notifications: our own don't wake us
        self._channel = "noormme_queue"
        self._listeners: set[asyncio.Task[None]] = set()
        self._identity: tuple[Any, ...] = ()  # DATABASE_IDENTITY, read when opened
        # Types with limits take the claim's slower path; the fast path re-checks in SQL,
        # so a stale list only delays a newly limited type's jobs, never over-claims.
        self._limited: frozenset[str] = frozenset()
        self._concurrent: frozenset[str] = frozenset()  # of them, those with a concurrency
        self._limited_at = -LIMITS_MAX_AGE

    @property
    def description(self) -> str:
        return self._server.description

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel: ``noormme_queue``, suffixed outside ``public``."""
        return self._channel

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._runner is None:
            await run_sync(self._open_sync)

    def _open_sync(self) -> None:
        with self._open_lock:
            if self._runner is not None:
                return
            server = self._server
            try:
                with psycopg.connect(server.url, **server.connect_kwargs) as conn:
                    self._channel = migrate(conn, server)
                    self._identity = tuple(conn.execute(sql.DATABASE_IDENTITY).fetchone() or ())
                    conn.execute(ddl.ANALYZE)
                pool: ConnectionPool[Conn] = ConnectionPool(
                    server.url,
                    kwargs=server.connect_kwargs,
                    min_size=1,
                    max_size=self.max_connections,
                    timeout=self.pool_timeout,
                    name="noormme-queue",
                    open=False,
                )
                pool.open(wait=True, timeout=self.pool_timeout)
            except (psycopg.Error, PoolTimeout) as exc:
                raise self.translate(exc) from exc
            self._runner = Runner(pool, self.max_connections, self.translate, self.description)

    async def close(self) -> None:
        running = asyncio.get_running_loop()
        for task in list(self._listeners):
            if task.get_loop() is running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                with contextlib.suppress(RuntimeError):
                    task.get_loop().call_soon_threadsafe(task.cancel)
        runner, self._runner = self._runner, None
        if runner is not None:
            await run_sync(runner.close)

    def translate(self, exc: BaseException) -> StoreError:
        """Turn a psycopg error into a QueueError naming host and database (never the
        password)."""
        return self._server.translate(
            exc, pool_timeout=self.pool_timeout, pool_size=self.max_connections
        )

    # -- plumbing ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = False) -> T:
        """Run ``fn`` with a pooled connection (autocommit); see pool.py."""
        if self._runner is None:
            await self.open()
        runner = self._runner
        if runner is None:
            raise StoreUnavailable(f"the job store for {self.description} is closed")
        return await runner.run(fn, write=write)

    def _wake_params(self) -> dict[str, str]:
        return {"channel": self._channel, "sender": self._sender}

    async def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        await self.open()
        listening = Listening(self._server, self._channel, self._sender, self.translate)
        conn = await listening.connect()
        task = asyncio.create_task(listening.loop(conn, on_wakeup), name="noormme-pg-listen")
        self._listeners.add(task)
        task.add_done_callback(self._listeners.discard)

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    @staticmethod
    def _fail_unreadable(conn: Conn, rows: Sequence[tuple[Unreadable, str]], now: float) -> None:
        """Mark held rows that no Job can hold failed, saying why; the rest goes on."""
        for bad, token in rows:
            log.error("job %s was marked failed: its row %s", bad.job_id, bad.error)
            params = {"error": bad.error, "now": now, "id": bad.job_id, "token": token}
            params["events"] = dumps([unreadable(bad.error, now)])
            conn.execute(sql.FAIL_UNREADABLE, params)

    # -- operations ----------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[NewJob]) -> list[str]:
        if not jobs:
            return []
        # The wake-up parameters once open: the channel depends on the schema found there.
        return await self._run(
            lambda conn: self._write_jobs(conn, jobs, self._wake_params()), write=True
        )

    def _write_jobs(self, conn: Conn, jobs: Sequence[NewJob], wake: dict[str, str]) -> list[str]:
        """Insert ``jobs`` on ``conn``: the one write of ``enqueue`` and ``enqueue_on``."""
        if not any(j.unique_key is not None for j in jobs):
            ids = self._insert(conn, jobs, wake)  # one statement: atomic, one round trip
        else:
            with conn.transaction():  # several statements may be needed: all or nothing
                ids = self._insert(conn, jobs, wake)
        if len(jobs) >= ANALYZE_AFTER_ROWS:
            conn.execute(ddl.ANALYZE)  # keep claims on their index
        return ids

    def _insert(
        self, conn: Conn, jobs: Sequence[NewJob], wake: dict[str, str] | None = None
    ) -> list[str]:
        wake = self._wake_params() if wake is None else wake
        return insert_jobs(conn, jobs, wake=wake, where=self._server.where)

    async def claim(
        self,
        types: Sequence[str],
        limit: int,
        *,
        now: float,
        lease_until: float,
        worker_id: str,
        queues: Mapping[str, int] | None = None,
    ) -> Claim:
        params = _claim_params(types, limit, now, lease_until, worker_id)
        if not types or limit <= 0:
            return Claim(params["token"], [], None)
        runner = self._runner
        if runner is not None:
            await runner.writes_settled()
        return await self._run(lambda conn: self._claim_on(conn, params, types, queues), write=True)

    def _claim_on(
        self,
        conn: Conn,
        params: dict[str, Any],
        types: Sequence[str],
        queues: Mapping[str, int] | None,
        ready: Ready | None = None,
    ) -> Claim:
        """A claim's write; ``ready``: what SETTLE_AND_CLAIM claimed already."""
        token, now, limit = params["token"], params["now"], params["limit"]
        staged = 0
        if ready is None and any(t in self._limited_types(conn) for t in types):
            rows, next_run_at = claim_planned(conn, params, types, limit, queues, self._concurrent)
        else:
            rows, staged, next_run_at = ready or claim_ready(conn, params, queues)
            if staged and len(rows) < limit:
                # Jobs it made due are claimable by the next statement: claim them now.
                more, staged, next_run_at = claim_ready(
                    conn, params | {"limit": limit - len(rows)}, less_taken(queues, rows)
                )
                rows += more
        jobs, unreadable = read_rows(rows)
        # Autocommit: if this is lost, the lease runs out and recovery marks them.
        self._fail_unreadable(conn, [(bad, token) for bad in unreadable], now)
        jobs.sort(key=claim_order)
        if staged:  # more were staged than this claim could take: look again at once
            next_run_at = now
        return Claim(token, jobs, None if len(jobs) >= limit else next_run_at)

    async def settle(self, outcomes: Sequence[Outcome], *, now: float) -> list[bool]:
        if not outcomes:
            return []
        kinds, params = settle_params(outcomes, now)
        wake = any(makes_due(o, now) for o in outcomes)

        def write(conn: Conn) -> list[bool]:
            rows = conn.execute(sql.SETTLE(kinds), params).fetchall()
            self._wake_if(conn, wake, rows)
            return applied(outcomes, rows)

        return await self._run(write, write=True)

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        types: Sequence[str],
        limit: int,
        *,
        now: float,
        lease_until: float,
        worker_id: str,
        queues: Mapping[str, int] | None = None,
    ) -> tuple[list[bool], Claim]:
        params = _claim_params(types, limit, now, lease_until, worker_id)
        if not outcomes or not types or limit <= 0:
            settled = await self.settle(outcomes, now=now)
            claim = await self.claim(
                types, limit, now=now, lease_until=lease_until, worker_id=worker_id, queues=queues
            )
            return settled, claim
        kinds, settling = settle_params(outcomes, now)
        wake = any(makes_due(o, now) for o in outcomes)

        def write(conn: Conn) -> tuple[list[bool], Claim]:
            if any(t in self._limited_types(conn) for t in types):
                with conn.transaction():  # the limited claim takes several statements
                    rows = conn.execute(sql.SETTLE(kinds), settling).fetchall()
                    claim = self._claim_on(conn, params, types, queues)
            else:  # one statement, one round trip
                args = ready_args(params | settling, queues)
                ready, rows = read_ready(conn.execute(sql.SETTLE_AND_CLAIM(kinds), args).fetchall())
                claim = self._claim_on(conn, params, types, queues, ready)
            self._wake_if(conn, wake, rows)
            return applied(outcomes, rows), claim

        runner = self._runner
        if runner is not None:
            await runner.writes_settled()
        return await self._run(write, write=True)

    def _wake_if(self, conn: Conn, wake: bool, settled: Sequence[tuple[Any, Any]]) -> None:
        """Notify listeners when an applied release or retry made a job due at once."""
        if wake and any(kind in ("l", "r") for kind, _ in settled):
            conn.execute(sql.NOTIFY, self._wake_params())

    async def extend_leases(self, held: Sequence[tuple[str, str]], lease_until: float) -> set[str]:
        if not held:
            return set()
        params = {"lease_until": lease_until, "held": records([list(pair) for pair in held])}

        def write(conn: Conn) -> set[str]:
            kept = {r[0] for r in conn.execute(sql.EXTEND_LEASES, params)}
            return {job_id for job_id, _ in held if job_id not in kept}

        return await self._run(write, write=True)

    async def expired_leases(self, *, now: float, limit: int) -> list[Expired]:
        def read(conn: Conn) -> list[Expired]:
            expired: list[Expired] = []
            unreadable: list[tuple[Unreadable, str]] = []
            for row in conn.execute(sql.EXPIRED_LEASES, {"now": now, "limit": limit}):
                job = read_row(row[:-1])
                if isinstance(job, Unreadable):
                    unreadable.append((job, row[-1]))
                else:
                    expired.append(Expired(job, row[-1]))
            self._fail_unreadable(conn, unreadable, now)
            return expired

        return await self._run(read)

    async def save_progress(self, job_id: str, token: str, progress: str) -> bool:
        params = {"progress": progress, "id": job_id, "token": token}

        def write(conn: Conn) -> bool:
            return conn.execute(sql.SAVE_PROGRESS, params).rowcount == 1

        return await self._run(write, write=True)

    async def job_events(self, job_id: str, *, limit: int) -> list[JobEvent]:
        def read(conn: Conn) -> list[JobEvent]:
            row = conn.execute(sql.JOB_EVENTS, {"id": job_id}).fetchone()
            return [] if row is None else read_events(job_id, row, limit)

        return await self._run(read)

    async def get(self, job_id: str) -> Job | None:
        def read(conn: Conn) -> Job | None:
            row = conn.execute(sql.GET, {"id": job_id}).fetchone()
            return None if row is None else row_to_job(row)

        return await self._run(read)

    async def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        statuses = listed_statuses(status)
        query = sql.LIST_JOBS(len(statuses), type is not None, queue is not None, bool(before))
        params: dict[str, Any] = {"type": type, "queue": queue, "before": before, "limit": limit}
        params.update((f"status{n}", value) for n, value in enumerate(statuses))

        def read(conn: Conn) -> list[Job]:
            return [row_to_job(r) for r in conn.execute(query, params)]

        return await self._run(read)

    async def stats(self, queue: str | None = None) -> QueueStats:
        def read(conn: Conn) -> QueueStats:
            if queue is not None:
                return stats_of(conn.execute(sql.QUEUE_STATS, {"queue": queue}).fetchall())
            return stats_of(conn.execute(sql.STATS).fetchall())

        return await self._run(read)

    async def pending_types(self) -> list[str]:
        def read(conn: Conn) -> list[str]:
            return [r[0] for r in conn.execute(sql.PENDING_TYPES)]

        return await self._run(read)

    async def cancel(self, job_id: str, *, now: float, by: str = PYTHON) -> JobStatus | None:
        params = {"id": job_id, "now": now, "events": dumps([cancelled(by, now)])}

        def write(conn: Conn) -> JobStatus | None:
            row = conn.execute(sql.CANCEL, params).fetchone()
            if row is None:
                return None
            return JobStatus.PENDING if row[0] == SCHEDULED else JobStatus(row[0])

        return await self._run(write, write=True)

    async def retry(self, job_id: str, *, now: float, by: str = PYTHON) -> bool:
        params = {"id": job_id, "now": now, "events": dumps([retried(by, now)])}
        params.update(self._wake_params())

        def write(conn: Conn) -> bool:
            try:
                with conn.transaction():
                    row = conn.execute(sql.RETRYABLE, params).fetchone()
                    if row is None:
                        return False
                    runs = after_manual_retry(attempts_made=row[0], budget=row[1])
                    rows = conn.execute(sql.RETRY, params | {"max_attempts": runs}).fetchall()
            except psycopg.errors.UniqueViolation:
                return False  # another live job holds its unique_key
            return any(r[0] is not None for r in rows)

        return await self._run(write, write=True)

    async def purge(self, *, finished_before: float, limit: int) -> int:
        def write(conn: Conn) -> int:
            return conn.execute(sql.PURGE, {"before": finished_before, "limit": limit}).rowcount

        return await self._run(write, write=True)

    async def purge_minutes(self, *, before: float) -> int:
        def write(conn: Conn) -> int:
            return conn.execute(sql.PURGE_MINUTES, {"minute": int(before // 60)}).rowcount

        return await self._run(write, write=True)

    async def finished_counts(self, *, since: float, width: float) -> list[FinishedCount]:
        def read(conn: Conn) -> list[FinishedCount]:
            if since % 60 == 0 and width % 60 == 0:  # whole minutes: the kept counts
                found = conn.execute(sql.FINISHED_MINUTES, {"minute": int(since // 60)})
                return minute_buckets(found.fetchall(), since=since, width=width)
            rows = conn.execute(sql.FINISHED_COUNTS, {"since": since, "width": width})
            return [FinishedCount(int(b), int(c), int(f)) for b, c, f in rows]

        return await self._run(read)
