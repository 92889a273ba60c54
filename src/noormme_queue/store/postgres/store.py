"""The PostgreSQL job store: many workers on many machines, one database.

Same protocol and semantics as the SQLite store (``store/sqlite.py`` is the
reference): claims are one statement that locks due jobs with
``FOR UPDATE SKIP LOCKED`` and marks them ``processing``, so concurrent workers
never wait on each other nor take the same job; every later transition is a
compare-and-set on ``status`` and ``claim_token``; ``now`` is always a
parameter. Enqueue, retry and recovery send ``pg_notify`` in the statement that
makes work available, so listeners in other processes wake at once.

Threads and event loops. The store is called from the worker's event loop and,
by the lease keeper, from another thread running its own loop; the sync face
may bring a third. An ``AsyncConnectionPool`` belongs to the loop it was
opened on, so it would need one pool per loop. Instead every operation runs a
plain function of a connection on a small thread pool (as many threads as the
``psycopg_pool.ConnectionPool`` has connections) through
``loop.run_in_executor``: loop-agnostic, one pool of connections per store,
and the event loop never waits on the network. Measured on the 2-vCPU dev VM,
the thread hop plus pool checkout add ~75 µs to an operation (a bare
``SELECT 1``: 100 µs through the store, 25 µs raw), small beside a write's
commit (0.5-0.9 ms, the WAL flush), and most operations are one statement in
autocommit mode, so a sequential ``add_job`` is one round trip: it runs at
raw psycopg's speed (docs/benchmarks.md). The only connection bound
to a loop is a listener's: ``listen`` opens an ``AsyncConnection`` on the
caller's loop, so its callback runs there, as the protocol asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from ...core.errors import ConfigError, SchemaTooNew, StoreCorrupt, StoreError, StoreUnavailable
from ...core.job import Job, JobStatus, QueueStats
from ...core.threads import run_sync
from ..base import Claim, Completed, Expired, Failed, FinishedCount, NewJob, Outcome, Released
from ..rows import attempt_json, claim_order, list_jobs_query, makes_due, row_to_job
from .schema import (
    META_DDL,
    MIGRATION_LOCK,
    MIGRATIONS,
    READ_VERSION,
    SCHEMA_VERSION,
    WRITE_VERSION,
)

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")
Conn = psycopg.Connection[Any]

DEFAULT_MAX_CONNECTIONS = 10
CONNECT_TIMEOUT = 10.0  # seconds, unless the URL sets connect_timeout
POOL_TIMEOUT = 30.0  # seconds an operation waits for a free connection
LISTEN_RETRY_MAX = 30.0  # seconds between attempts to re-open a lost listener connection
UNIQUE_RACE_RETRIES = 5
APPLICATION_NAME = "noormme-queue"

# The same columns as SQLite, in the same order, so rows convert with the same function.
COLUMNS = (
    "id, type, payload, status, priority, attempts, max_attempts, run_at, created_at, "
    "started_at, finished_at, result, error, history::text, retry_policy, unique_key, timeout, "
    "worker_id, progress"
)
_COLUMN_COUNT = COLUMNS.count(",") + 1
_J_COLUMNS = ", ".join(f"j.{c.strip()}" for c in COLUMNS.split(","))
_LIVE = "status IN ('pending', 'processing')"


def _waking(dml: str, returning_count: int, condition: str = "") -> str:
    """``dml`` (a statement with RETURNING) that also notifies listeners, in the same
    transaction, when it returned rows (matching ``condition``). The notification shows up
    as one extra row of NULLs, which callers skip."""
    nulls = ", ".join(["NULL"] * returning_count)
    return (
        f"WITH changed AS ({dml}),"
        " wake AS (SELECT pg_notify(%(channel)s, %(sender)s)"
        f"  WHERE EXISTS (SELECT 1 FROM changed {condition}))"
        f" SELECT * FROM changed UNION ALL SELECT {nulls} FROM wake"
    )


class PostgresStore:
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = POOL_TIMEOUT,
    ) -> None:
        if max_connections < 1:
            raise ConfigError("max_connections must be at least 1")
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"QUEUE_DATABASE_URL is not a valid PostgreSQL URL: {_scrub(str(exc), url)}"
            ) from None
        self.url = url
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self._password = str(params.get("password") or "")
        self._connect_kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            self._connect_kwargs["connect_timeout"] = int(CONNECT_TIMEOUT)
        if "application_name" not in params:  # what pg_stat_activity shows
            self._connect_kwargs["application_name"] = APPLICATION_NAME
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        user = params.get("user")
        dbname = params.get("dbname") or user or ""
        self._where = f"{host}:{port}/{dbname}"
        self._description = f"postgresql://{f'{user}@' if user else ''}{self._where}"
        self._pool: ConnectionPool[Conn] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._open_lock = threading.Lock()
        self._sender = uuid.uuid4().hex  # tags our notifications: our own don't wake us
        self._channel = "noormme_queue"
        self._listeners: set[asyncio.Task[None]] = set()
        self._writes: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, set[asyncio.Future[Any]]
        ] = weakref.WeakKeyDictionary()
        self._writes_lock = threading.Lock()
        self._gathering: dict[asyncio.AbstractEventLoop, list[tuple[Callable[[Conn], Any], Any]]]
        self._gathering = {}

    @property
    def description(self) -> str:
        return self._description

    @property
    def channel(self) -> str:
        """The LISTEN/NOTIFY channel: ``noormme_queue``, suffixed outside ``public``."""
        return self._channel

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        await run_sync(self._open_sync)

    def _open_sync(self) -> None:
        with self._open_lock:
            if self._pool is not None:
                return
            try:
                with psycopg.connect(self.url, **self._connect_kwargs) as conn:
                    self._channel = self._migrate(conn)
                    # Fresh planner statistics: with stale ones (a bulk load autovacuum has
                    # not seen yet) the claim sorts every pending row instead of walking
                    # its index.
                    conn.execute("ANALYZE noormme_jobs")
                pool: ConnectionPool[Conn] = ConnectionPool(
                    self.url,
                    kwargs=self._connect_kwargs,
                    min_size=1,
                    max_size=self.max_connections,
                    timeout=self.pool_timeout,
                    name="noormme-queue",
                    open=False,
                )
                pool.open(wait=True, timeout=self.pool_timeout)
            except (psycopg.Error, PoolTimeout) as exc:
                raise self.translate(exc) from exc
            self._executor = ThreadPoolExecutor(self.max_connections, "noormme-queue-pg")
            self._pool = pool

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
        pool, executor = self._pool, self._executor
        self._pool = self._executor = None
        if executor is not None:
            await run_sync(executor.shutdown, True)
        if pool is not None:
            await run_sync(pool.close)

    def _migrate(self, conn: Conn) -> str:
        """Bring the schema to SCHEMA_VERSION; return the notification channel."""
        with conn.transaction():
            schema = conn.execute("SELECT current_schema()").fetchone()
            if schema is None or schema[0] is None:
                raise StoreUnavailable(
                    f"{self._where}: no schema of the search_path exists; create it "
                    "(CREATE SCHEMA ...) or fix options=-csearch_path=... in the URL"
                )
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(META_DDL)
            row = conn.execute(READ_VERSION).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self._description} has queue schema version {version}, but this "
                    f"noormme-queue knows only up to {SCHEMA_VERSION}: upgrade noormme-queue"
                )
            if version == 0:
                exists = conn.execute("SELECT to_regclass('noormme_jobs')").fetchone()
                if exists is not None and exists[0] is not None:
                    raise StoreCorrupt(
                        f"{self._description} has a noormme_jobs table but no schema version: "
                        "refusing to touch a table this library did not create"
                    )
            for number in range(version, SCHEMA_VERSION):
                conn.execute(MIGRATIONS[number])
            if version != SCHEMA_VERSION:
                conn.execute(WRITE_VERSION, (str(SCHEMA_VERSION),))
        return _channel_for(str(schema[0]))

    def translate(self, exc: BaseException) -> StoreError:
        """Turn a psycopg error into a QueueError naming host and database (never the
        password)."""
        if isinstance(exc, StoreError):
            return exc
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        text = _scrub(" ".join(lines[:2]), self._password) or type(exc).__name__
        error: StoreError
        if isinstance(exc, PoolTimeout):
            error = StoreUnavailable(
                f"PostgreSQL at {self._where}: no connection within {self.pool_timeout:g}s "
                f"({text}); is the server up, or are all {self.max_connections} connections busy?"
            )
        elif isinstance(exc, psycopg.OperationalError):
            error = StoreUnavailable(
                f"cannot use PostgreSQL at {self._where}: {text}; check that the server is "
                "running and QUEUE_DATABASE_URL (host, port, database, user, password)"
            )
        else:
            error = StoreError(f"PostgreSQL at {self._where}: {type(exc).__name__}: {text}")
        error.__cause__ = exc
        return error

    # -- plumbing ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = False) -> T:
        """Run ``fn`` with a pooled connection (autocommit) on the store's threads.

        Writes submitted in one event-loop iteration (a worker's settle and claim, many
        producers) share one transaction and one commit, in the order they were submitted.
        """
        if self._pool is None:
            await self.open()
        executor = self._executor
        if executor is None:
            raise StoreUnavailable(f"the job store for {self._description} is closed")
        loop = asyncio.get_running_loop()
        if not write:
            return await loop.run_in_executor(executor, self._call, fn)
        future: asyncio.Future[T] = loop.create_future()
        with self._writes_lock:
            group = self._gathering.get(loop)
            if group is None:
                self._gathering[loop] = group = []
                loop.call_soon(self._flush_writes, loop, executor)
            group.append((fn, future))
        return await future

    def _flush_writes(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor) -> None:
        with self._writes_lock:
            group = self._gathering.pop(loop, [])
        if not group:
            return
        running = loop.run_in_executor(executor, self._call_group, [fn for fn, _ in group])
        with self._writes_lock:
            pending = self._writes.setdefault(loop, set())
        pending.add(running)

        def done(task: asyncio.Future[list[tuple[Any, BaseException | None]]]) -> None:
            pending.discard(task)
            error = task.exception()
            outcomes = [(None, error)] * len(group) if error is not None else task.result()
            for (_, future), (result, failure) in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if failure is not None:
                    future.set_exception(failure)
                else:
                    future.set_result(result)

        running.add_done_callback(done)

    def _call_group(
        self, fns: list[Callable[[Conn], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        if len(fns) == 1:
            try:
                return [(self._call(fns[0]), None)]
            except Exception as exc:
                return [(None, exc)]

        def run_all(conn: Conn) -> list[tuple[Any, BaseException | None]]:
            with conn.transaction():
                outcomes: list[tuple[Any, BaseException | None]] = [(fn(conn), None) for fn in fns]
                if conn.info.transaction_status == TransactionStatus.INERROR:
                    # A request caught its own error (retry's unique-key conflict), but the
                    # transaction is spoilt: COMMIT would quietly roll everything back.
                    raise _GroupSpoilt
                return outcomes

        try:
            return self._call(run_all)
        except Exception:
            # One request failed, and the transaction with it (nothing was committed): run
            # each on its own, so only that one fails. Rare enough not to pay for a savepoint
            # per request in the common case.
            outcomes: list[tuple[Any, BaseException | None]] = []
            for fn in fns:
                try:
                    outcomes.append((self._call(fn), None))
                except Exception as exc:
                    outcomes.append((None, exc))
            return outcomes

    async def _writes_settled(self) -> None:
        """Wait for the writes this event loop submitted before now.

        Operations run concurrently on several connections, but a worker saves outcomes and
        claims in one go (``gather(settle, claim)``) and relies on the claim seeing the
        settle, as it does in SQLite's single transaction: a job put back to ``pending``
        for a retry must count in the claim's ``next_run_at``. So a claim first waits for
        the writes already in flight from its loop (one extra round trip at most).
        """
        with self._writes_lock:
            pending = list(self._writes.get(asyncio.get_running_loop(), ()))
        if pending:
            await asyncio.wait(pending)

    def _call(self, fn: Callable[[Conn], T]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreUnavailable(f"the job store for {self._description} is closed")
        try:
            with pool.connection() as conn:
                return fn(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self.translate(exc) from exc

    def _wake_params(self) -> dict[str, str]:
        return {"channel": self._channel, "sender": self._sender}

    async def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        await self.open()
        conn = await self._listen_connect()
        task = asyncio.create_task(self._listen_loop(conn, on_wakeup), name="noormme-pg-listen")
        self._listeners.add(task)
        task.add_done_callback(self._listeners.discard)

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    async def _listen_connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            kwargs = self._connect_kwargs
            if kwargs.get("application_name") == APPLICATION_NAME:
                kwargs = kwargs | {"application_name": f"{APPLICATION_NAME}-listen"}
            conn = await psycopg.AsyncConnection.connect(self.url, **kwargs)
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except psycopg.Error as exc:
            raise self.translate(exc) from exc
        return conn

    async def _listen_loop(
        self, conn: psycopg.AsyncConnection[Any], on_wakeup: Callable[[], None]
    ) -> None:
        try:
            while True:
                try:
                    async for note in conn.notifies():
                        if note.payload != self._sender:
                            on_wakeup()
                except psycopg.Error as exc:
                    log.warning("lost the LISTEN connection to %s: %s", self._where, exc)
                await conn.close()
                conn = await self._relisten()
                on_wakeup()  # notifications may have been missed meanwhile: look for work
        finally:
            await conn.close()

    async def _relisten(self) -> psycopg.AsyncConnection[Any]:
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                return await self._listen_connect()
            except StoreError as exc:
                log.warning("re-opening the LISTEN connection failed (%s); retrying", exc)
                delay = min(delay * 2, LISTEN_RETRY_MAX)

    # -- operations ----------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[NewJob]) -> list[str]:
        if not jobs:
            return []

        def write(conn: Conn) -> list[str]:
            if not any(j.unique_key is not None for j in jobs):
                ids = insert(conn)  # one statement: atomic, one round trip
            else:
                with conn.transaction():  # several statements may be needed: all or nothing
                    ids = insert(conn)
            if len(jobs) >= ANALYZE_AFTER_ROWS:
                conn.execute("ANALYZE noormme_jobs")  # see _open_sync: keep claims on the index
            return ids

        def insert(conn: Conn) -> list[str]:
            ids: list[str | None] = [None] * len(jobs)
            todo = list(range(len(jobs)))
            for _ in range(UNIQUE_RACE_RETRIES):
                batch = [jobs[i] for i in todo]
                params: dict[str, Any] = {
                    "id": [j.id for j in batch],
                    "type": [j.type for j in batch],
                    "payload": [j.payload for j in batch],
                    "priority": [j.priority for j in batch],
                    "max_attempts": [j.max_attempts for j in batch],
                    "run_at": [j.run_at for j in batch],
                    "created_at": [j.created_at for j in batch],
                    "retry_policy": [j.retry_policy for j in batch],
                    "unique_key": [j.unique_key for j in batch],
                    "timeout": [j.timeout for j in batch],
                    **self._wake_params(),
                }
                inserted = {r[0] for r in conn.execute(_ENQUEUE_SQL, params) if r[0] is not None}
                skipped = [i for i in todo if jobs[i].id not in inserted]
                for i in todo:
                    if jobs[i].id in inserted:
                        ids[i] = jobs[i].id
                if not skipped:
                    break
                # A live job holds the key (maybe one of this batch): hand back its id.
                keys = list({jobs[i].unique_key for i in skipped})
                live = dict(
                    conn.execute(
                        f"SELECT unique_key, id FROM noormme_jobs WHERE unique_key = ANY(%s)"
                        f" AND {_LIVE}",
                        (keys,),
                    ).fetchall()
                )
                todo = []
                for i in skipped:
                    holder = live.get(jobs[i].unique_key)
                    if holder is None:
                        todo.append(i)  # it finished in between: try to insert again
                    else:
                        ids[i] = holder
                if not todo:
                    break
            else:
                raise StoreError(
                    f"PostgreSQL at {self._where}: enqueue kept racing jobs that finished "
                    "with the same unique_key; try again"
                )
            return [i for i in ids if i is not None]

        return await self._run(write, write=True)

    async def claim(
        self, types: Sequence[str], limit: int, *, now: float, lease_until: float, worker_id: str
    ) -> Claim:
        token = uuid.uuid4().hex
        if not types or limit <= 0:
            return Claim(token, [], None)
        params = {
            "token": token,
            "worker_id": worker_id,
            "lease_until": lease_until,
            "now": now,
            "types": list(types),
            "limit": limit,
        }

        def write(conn: Conn) -> Claim:
            rows = conn.execute(_CLAIM_SQL, params).fetchall()
            jobs = sorted((row_to_job(r) for r in rows), key=claim_order)
            next_run_at = None
            if len(jobs) < limit:
                row = conn.execute(_NEXT_DUE_SQL, {"types": params["types"]}).fetchone()
                next_run_at = None if row is None else row[0]
            return Claim(token, jobs, next_run_at)

        await self._writes_settled()
        return await self._run(write, write=True)

    async def settle(self, outcomes: Sequence[Outcome], *, now: float) -> list[bool]:
        if not outcomes:
            return []
        done = [o for o in outcomes if isinstance(o, Completed)]
        failed = [o for o in outcomes if isinstance(o, Failed)]
        released = [o for o in outcomes if isinstance(o, Released)]
        params: dict[str, Any] = {
            "now": now,
            "c_id": [o.job_id for o in done],
            "c_token": [o.token for o in done],
            "c_result": [o.result for o in done],
            "c_attempt": [attempt_json(o.attempt) for o in done],
            "f_id": [o.job_id for o in failed],
            "f_token": [o.token for o in failed],
            "f_error": [o.attempt.error for o in failed],
            "f_retry": [o.retry_at for o in failed],
            "f_attempt": [attempt_json(o.attempt) for o in failed],
            "r_id": [o.job_id for o in released],
            "r_token": [o.token for o in released],
        }

        wake = any(makes_due(o, now) for o in outcomes)

        def write(conn: Conn) -> list[bool]:
            applied = {(kind, job_id) for kind, job_id in conn.execute(_SETTLE_SQL, params)}
            kinds = {Completed: "c", Failed: "f", Released: "r"}
            if wake and any(kind in ("r", "f") for kind, _ in applied):
                conn.execute(_NOTIFY_SQL, self._wake_params())
            return [(kinds[type(o)], o.job_id) in applied for o in outcomes]

        return await self._run(write, write=True)

    async def extend_leases(self, held: Sequence[tuple[str, str]], lease_until: float) -> set[str]:
        if not held:
            return set()
        params = {
            "lease_until": lease_until,
            "ids": [job_id for job_id, _ in held],
            "tokens": [token for _, token in held],
        }

        def write(conn: Conn) -> set[str]:
            kept = {r[0] for r in conn.execute(_EXTEND_SQL, params)}
            return {job_id for job_id, _ in held if job_id not in kept}

        return await self._run(write, write=True)

    async def expired_leases(self, *, now: float, limit: int) -> list[Expired]:
        def read(conn: Conn) -> list[Expired]:
            rows = conn.execute(_EXPIRED_SQL, {"now": now, "limit": limit}).fetchall()
            return [Expired(row_to_job(r[:-1]), r[-1]) for r in rows]

        return await self._run(read)

    async def save_progress(self, job_id: str, token: str, progress: str) -> bool:
        def write(conn: Conn) -> bool:
            cur = conn.execute(
                "UPDATE noormme_jobs SET progress = %s"
                " WHERE id = %s AND status = 'processing' AND claim_token = %s",
                (progress, job_id, token),
            )
            return cur.rowcount == 1

        return await self._run(write, write=True)

    async def get(self, job_id: str) -> Job | None:
        def read(conn: Conn) -> Job | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM noormme_jobs WHERE id = %s",
                (job_id,),
            ).fetchone()
            return None if row is None else row_to_job(row)

        return await self._run(read)

    async def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        query, params = list_jobs_query(
            COLUMNS, "%s", status=status, type=type, before=before, limit=limit
        )

        def read(conn: Conn) -> list[Job]:
            return [row_to_job(r) for r in conn.execute(query, params)]

        return await self._run(read)

    async def stats(self) -> QueueStats:
        def read(conn: Conn) -> QueueStats:
            rows = conn.execute("SELECT status, COUNT(*) FROM noormme_jobs GROUP BY status")
            counts = {status: int(n) for status, n in rows}
            known = {s.value: counts.get(s.value, 0) for s in JobStatus}
            return QueueStats(total=sum(known.values()), **known)

        return await self._run(read)

    async def pending_types(self) -> list[str]:
        def read(conn: Conn) -> list[str]:
            return [r[0] for r in conn.execute(_PENDING_TYPES_SQL)]

        return await self._run(read)

    async def cancel(self, job_id: str, *, now: float) -> JobStatus | None:
        def write(conn: Conn) -> JobStatus | None:
            row = conn.execute(_CANCEL_SQL, {"id": job_id, "now": now}).fetchone()
            return None if row is None else JobStatus(row[0])

        return await self._run(write, write=True)

    async def retry(self, job_id: str, *, now: float) -> bool:
        params = {"id": job_id, "now": now, **self._wake_params()}

        def write(conn: Conn) -> bool:
            try:
                rows = conn.execute(_RETRY_SQL, params).fetchall()
            except psycopg.errors.UniqueViolation:
                return False  # another live job holds its unique_key
            return any(r[0] is not None for r in rows)

        return await self._run(write, write=True)

    async def purge(self, *, finished_before: float, limit: int) -> int:
        def write(conn: Conn) -> int:
            cur = conn.execute(_PURGE_SQL, {"before": finished_before, "limit": limit})
            return cur.rowcount

        return await self._run(write, write=True)

    async def finished_counts(self, *, since: float, width: float) -> list[FinishedCount]:
        def read(conn: Conn) -> list[FinishedCount]:
            rows = conn.execute(_FINISHED_COUNTS_SQL, {"since": since, "width": width})
            return [FinishedCount(int(b), int(c), int(f)) for b, c, f in rows]

        return await self._run(read)

    async def explain(self, sql_name: str, **params: Any) -> list[str]:
        """The plan of one of the store's hot queries (for tests and diagnostics), explained
        without running it; ``params`` override the sample parameters (``now``, ``types``)."""
        queries: dict[str, tuple[str, dict[str, Any]]] = {
            "claim": (
                _CLAIM_SQL,
                {
                    "token": "t",
                    "worker_id": "w",
                    "lease_until": 0.0,
                    "now": 0.0,
                    "types": ["x"],
                    "limit": 10,
                },
            ),
            "next_due": (_NEXT_DUE_SQL, {"types": ["x"]}),
            "expired": (_EXPIRED_SQL, {"now": 0.0, "limit": 100}),
            "finished_counts": (_FINISHED_COUNTS_SQL, {"since": 0.0, "width": 60.0}),
            "purge": (_PURGE_SQL, {"before": 0.0, "limit": 500}),
            "pending_types": (_PENDING_TYPES_SQL, {}),
        }
        query, sample = queries[sql_name]
        sample.update((k, v) for k, v in params.items() if k in sample)

        def read(conn: Conn) -> list[str]:
            rows = conn.execute(f"EXPLAIN {query}", sample or None)
            return [str(r[0]) for r in rows]

        return await self._run(read)


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


@cache
def _channel_for(schema: str) -> str:
    if schema == "public":
        return "noormme_queue"
    name = f"noormme_queue.{schema}"
    if len(name.encode()) > 63:  # identifiers are at most 63 bytes
        name = "noormme_queue." + hashlib.sha256(schema.encode()).hexdigest()[:16]
    return name


_ENQUEUE_SQL = _waking(
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    "  created_at, retry_policy, unique_key, timeout)"
    " SELECT id, type, payload, 'pending', priority, max_attempts, run_at, created_at,"
    "  retry_policy, unique_key, timeout"
    " FROM unnest(%(id)s::text[], %(type)s::text[], %(payload)s::text[], %(priority)s::int[],"
    "  %(max_attempts)s::int[], %(run_at)s::float8[], %(created_at)s::float8[],"
    "  %(retry_policy)s::text[], %(unique_key)s::text[], %(timeout)s::float8[])"
    "  WITH ORDINALITY AS v(id, type, payload, priority, max_attempts, run_at, created_at,"
    "  retry_policy, unique_key, timeout, ord)"
    " ORDER BY ord"  # the first of several jobs with one unique_key wins, as in SQLite
    f" ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {_LIVE} DO NOTHING"
    " RETURNING id",
    1,
)

# The locking subselect is a MATERIALIZED CTE so that it runs exactly once: the row locks it
# takes (skipping rows other claims hold) decide which jobs this claim gets.
ANALYZE_AFTER_ROWS = 1000


class _GroupSpoilt(Exception):
    """A grouped transaction must be rolled back and its requests run one by one."""


_CLAIM_SQL = (
    "WITH picked AS MATERIALIZED ("
    " SELECT id FROM noormme_jobs"
    " WHERE status = 'pending' AND run_at <= %(now)s AND type = ANY(%(types)s::text[])"
    " ORDER BY priority DESC, run_at, id"
    " LIMIT %(limit)s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE noormme_jobs j SET status = 'processing', attempts = j.attempts + 1,"
    "  claim_token = %(token)s, worker_id = %(worker_id)s, lease_until = %(lease_until)s,"
    "  started_at = %(now)s"
    " FROM picked WHERE j.id = picked.id"
    f" RETURNING {_J_COLUMNS}"
)

# One index seek per type (a LATERAL LIMIT 1 on the (type, run_at) index).
_NEXT_DUE_SQL = (
    "SELECT MIN(due.run_at) FROM unnest(%(types)s::text[]) AS t(type)"
    " CROSS JOIN LATERAL (SELECT run_at FROM noormme_jobs j"
    "  WHERE j.status = 'pending' AND j.type = t.type ORDER BY run_at LIMIT 1) AS due"
)

# Every transition of a claimed job is a compare-and-set on its status and claim token. All
# three kinds of outcome are saved by one statement, whatever the batch's size.
_HELD = "j.id = v.id AND j.status = 'processing' AND j.claim_token = v.token"
_SETTLE_SQL = (
    "WITH done AS ("
    " UPDATE noormme_jobs j SET status = 'completed', result = v.result, error = NULL,"
    "  finished_at = %(now)s, claim_token = NULL, lease_until = NULL,"
    "  history = j.history || jsonb_build_array(v.attempt)"
    " FROM unnest(%(c_id)s::text[], %(c_token)s::text[], %(c_result)s::text[],"
    "  %(c_attempt)s::jsonb[]) AS v(id, token, result, attempt)"
    f" WHERE {_HELD} RETURNING j.id),"
    " failed AS ("
    " UPDATE noormme_jobs j SET"
    "  status = CASE WHEN v.retry_at IS NULL THEN 'failed' ELSE 'pending' END,"
    "  error = v.error,"
    "  finished_at = CASE WHEN v.retry_at IS NULL THEN %(now)s ELSE j.finished_at END,"
    "  run_at = COALESCE(v.retry_at, j.run_at),"
    "  claim_token = NULL, lease_until = NULL,"
    "  history = j.history || jsonb_build_array(v.attempt)"
    " FROM unnest(%(f_id)s::text[], %(f_token)s::text[], %(f_error)s::text[],"
    "  %(f_retry)s::float8[], %(f_attempt)s::jsonb[]) AS v(id, token, error, retry_at, attempt)"
    f" WHERE {_HELD} RETURNING j.id),"
    " released AS ("
    " UPDATE noormme_jobs j SET status = 'pending', attempts = j.attempts - 1,"
    "  claim_token = NULL, lease_until = NULL"
    " FROM unnest(%(r_id)s::text[], %(r_token)s::text[]) AS v(id, token)"
    f" WHERE {_HELD} RETURNING j.id)"
    " SELECT 'c', id FROM done UNION ALL SELECT 'f', id FROM failed"
    " UNION ALL SELECT 'r', id FROM released"
)

_EXTEND_SQL = (
    "UPDATE noormme_jobs j SET lease_until = %(lease_until)s"
    " FROM unnest(%(ids)s::text[], %(tokens)s::text[]) AS v(id, token)"
    f" WHERE {_HELD} RETURNING j.id"
)

_EXPIRED_SQL = (
    f"SELECT {COLUMNS}, claim_token FROM noormme_jobs"
    " WHERE status = 'processing' AND lease_until < %(now)s LIMIT %(limit)s"
)

_NOTIFY_SQL = "SELECT pg_notify(%(channel)s, %(sender)s)"

# The row is locked before its status is read, so the status returned is the one replaced.
_CANCEL_SQL = (
    "UPDATE noormme_jobs j SET status = 'cancelled', finished_at = %(now)s,"
    " claim_token = NULL, lease_until = NULL"
    f" FROM (SELECT id, status FROM noormme_jobs WHERE id = %(id)s AND {_LIVE} FOR UPDATE) old"
    " WHERE j.id = old.id RETURNING old.status"
)

_RETRY_SQL = _waking(
    "UPDATE noormme_jobs SET status = 'pending', attempts = 0, run_at = %(now)s,"
    " started_at = NULL, finished_at = NULL, error = NULL, result = NULL"
    " WHERE id = %(id)s AND status IN ('failed', 'cancelled') RETURNING id",
    1,
)

_PURGE_SQL = (
    "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
    " WHERE status IN ('completed', 'cancelled') AND finished_at < %(before)s"
    " LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
)

# A loose index scan over the (type, run_at) index: one seek per distinct type.
_PENDING_TYPES_SQL = (
    "WITH RECURSIVE t(type) AS ("
    " SELECT MIN(type) FROM noormme_jobs WHERE status = 'pending'"
    " UNION ALL"
    " SELECT (SELECT MIN(type) FROM noormme_jobs WHERE status = 'pending' AND type > t.type)"
    " FROM t WHERE t.type IS NOT NULL"
    ") SELECT type FROM t WHERE type IS NOT NULL"
)

# Completed jobs are many: a range of the partial index on finished_at; failed jobs, the
# dead-letter record, are few: by status.
_FINISHED_COUNTS_SQL = (
    "SELECT floor((finished_at - %(since)s) / %(width)s)::bigint AS bucket,"
    " count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')"
    " FROM ("
    "  SELECT status, finished_at FROM noormme_jobs"
    "   WHERE status = 'completed' AND finished_at >= %(since)s"
    "  UNION ALL"
    "  SELECT status, finished_at FROM noormme_jobs"
    "   WHERE status = 'failed' AND finished_at >= %(since)s"
    " ) f GROUP BY bucket ORDER BY bucket"
)
