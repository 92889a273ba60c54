"""The SQLite job store: one file in WAL mode, shared safely by many processes.

Writes (enqueue, claim, settle, cancel, ...) go through the group-commit writer
thread; reads run on a reader thread with its own connection. Claims are one
``UPDATE ... RETURNING`` inside ``BEGIN IMMEDIATE``, and every later
transition is a compare-and-set on ``status`` and ``claim_token``, so a stale
worker can never overwrite a job that was cancelled or recovered meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from ...core.errors import ConfigError, SchemaTooNew, StoreCorrupt, StoreError, StoreUnavailable
from ...core.job import Job, JobStatus, QueueStats
from ...core.threads import run_sync
from ..base import Claim, Completed, Expired, Failed, FinishedCount, NewJob, Outcome, Released
from ..rows import attempt_json, claim_order, list_jobs_query, makes_due, row_to_job
from .schema import META_DDL, MIGRATIONS, READ_VERSION, SCHEMA_VERSION, WRITE_VERSION
from .wakeup import WakeupBus
from .writer import GroupCommitWriter

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
LOOP_SIDE_MAX_ROWS = 64  # larger writes go to the writer thread, so the loop stays responsive

COLUMNS = (
    "id, type, payload, status, priority, attempts, max_attempts, run_at, created_at, "
    "started_at, finished_at, result, error, history, retry_policy, unique_key, timeout, "
    "worker_id, progress"
)


def sqlite_path_from_url(url: str) -> Path:
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` -> a path."""
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/queue.db)")
    raw = url.removeprefix("sqlite:///").split("?", 1)[0]
    if raw in ("", ":memory:"):
        raise ConfigError(
            "QUEUE_DATABASE_URL needs a file: an in-memory SQLite database cannot be shared "
            "by the writer and reader connections (use a temporary file instead)"
        )
    return Path(raw)


class SQLiteStore:
    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self._writer: GroupCommitWriter | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._bus = WakeupBus()
        self._lifecycle = threading.Lock()

    @property
    def description(self) -> str:
        return f"sqlite:///{self.path}"

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is None:
            await run_sync(self._open)

    def _open(self) -> None:
        # Many first calls may race to open the store (a burst of requests at start-up,
        # several threads of a WSGI app): the lock makes exactly one of them do it.
        with self._lifecycle:
            if self._writer is not None:
                return
            self._prepare_file()
            # The loop-side fast path needs commits that never wait for the disk.
            loop_side = self._connect_loop_side if self.synchronous == "NORMAL" else None
            writer = GroupCommitWriter(
                self._connect_writer,
                self.translate,
                after_commit=self._bus.nudge,
                connect_loop_side=loop_side,
            )
            writer.start()
            self._reader = ThreadPoolExecutor(1, "noormme-queue-reader", self._connect_reader)
            self._writer = writer

    async def close(self) -> None:
        await run_sync(self._close)

    def _close(self) -> None:
        with self._lifecycle:
            writer, reader = self._writer, self._reader
            self._writer = self._reader = None
            if writer is not None:
                writer.close()
            if reader is not None:
                reader.submit(self._close_reader)
                reader.shutdown(wait=True)
            self._bus.close()

    def _prepare_file(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the database directory {directory}: {exc.strerror or exc}"
            ) from exc
        if os.access(directory, os.W_OK):
            return
        why = _unwritable_reason(directory)
        if not self.path.exists():
            raise StoreUnavailable(
                f"cannot create {self.path}: the directory {directory} is not writable ({why})"
            )
        # In WAL mode SQLite keeps <db>-wal and <db>-shm beside the database and must create
        # them on open; without this check an existing database in a read-only directory
        # failed with a bare "unable to open database file" that did not say why.
        if not (_sidecar(self.path, "-wal").exists() and _sidecar(self.path, "-shm").exists()):
            raise StoreUnavailable(
                f"cannot open {self.path}: the directory {directory} is not writable ({why}), "
                f"and SQLite's WAL mode must create {self.path.name}-wal and "
                f"{self.path.name}-shm there"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailable(
                    f"{self.path}: could not switch to WAL mode (got {mode!r}); is the file on a "
                    "network filesystem?"
                )
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self.translate(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_loop_side(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.execute("PRAGMA busy_timeout = 0")  # never wait for another process's lock
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the writer thread checkpoints
        return conn

    def _connect_reader(self) -> None:
        conn = self._connect()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = 1")
        self._reader_conn = conn

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(META_DDL)
            row = conn.execute(READ_VERSION).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path} has queue schema version {version}, but this noormme-queue "
                    f"knows only up to {SCHEMA_VERSION}: upgrade noormme-queue"
                )
            if (
                version == 0
                and conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'noormme_jobs'"
                ).fetchone()
            ):
                raise StoreCorrupt(
                    f"{self.path} has a noormme_jobs table but no schema version: refusing to "
                    "touch a table this library did not create"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _split_sql(MIGRATIONS[number]):
                    conn.execute(statement)
            if version != SCHEMA_VERSION:
                conn.execute(WRITE_VERSION, (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def translate(self, exc: BaseException) -> StoreError:
        """Turn a sqlite3 error into a QueueError that names the file and the cause."""
        if isinstance(exc, StoreError):
            return exc
        name = getattr(exc, "sqlite_errorname", "")
        text = str(exc)
        where = str(self.path)
        if name in ("SQLITE_NOTADB",) or "file is not a database" in text:
            error: StoreError = StoreCorrupt(
                f"{where} is not a SQLite database (refusing to overwrite it): {text}"
            )
        elif name.startswith("SQLITE_CORRUPT") or "malformed" in text:
            error = StoreCorrupt(f"{where} is damaged: {text}; restore it from a backup")
        elif name.startswith("SQLITE_FULL") or "disk is full" in text:
            error = StoreUnavailable(f"{where}: the disk is full ({text}); free space and retry")
        elif name.startswith("SQLITE_BUSY") or "locked" in text:
            error = StoreUnavailable(
                f"{where} stayed locked by another connection ({text}); is a long transaction "
                "open elsewhere?"
            )
        elif name.startswith("SQLITE_READONLY") or "readonly" in text:
            error = StoreUnavailable(f"{where} is read-only ({text}); check file permissions")
        elif name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
            error = StoreUnavailable(
                f"cannot open {where} ({text}); check the path and permissions"
            )
        elif name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
            error = StoreUnavailable(f"{where}: I/O error ({text}); is the disk full or failing?")
        else:
            error = StoreError(f"{where}: {type(exc).__name__}: {text}")
        error.__cause__ = exc
        return error

    # -- plumbing ------------------------------------------------------------------------------

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, notify: bool = False, on_loop: bool = True
    ) -> T:
        writer = self._writer
        if writer is None:
            await self.open()
            writer = self._writer
            assert writer is not None
        if notify:
            inner = fn

            def fn(conn: sqlite3.Connection) -> T:
                self._refresh_listeners(conn)
                return inner(conn)

        result: T = await writer.submit(fn, notify=notify, on_loop=on_loop)
        return result

    def _refresh_listeners(self, conn: sqlite3.Connection) -> None:
        """Keep the bus's list of other processes' workers fresh (at most once a second)."""
        if not self._bus.targets_stale():
            return
        dead = self._bus.take_dead()
        if dead:
            conn.executemany("DELETE FROM noormme_listeners WHERE name = ?", [(n,) for n in dead])
        self._bus.set_targets([r[0] for r in conn.execute("SELECT name FROM noormme_listeners")])

    async def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        listener = self._bus.listen(on_wakeup)
        if listener is None:

            async def nothing_to_close() -> None:
                return None

            return nothing_to_close
        name = listener.name
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO noormme_listeners (name, pid, created_at) VALUES (?, ?, ?)",
                (name, os.getpid(), time.time()),
            )
        )

        async def close() -> None:
            listener.close()
            self._bus.forget(listener)
            await self._write(
                lambda conn: conn.execute("DELETE FROM noormme_listeners WHERE name = ?", (name,))
            )

        return close

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader is None:
            await self.open()
        reader = self._reader
        assert reader is not None

        def run() -> T:
            conn = self._reader_conn
            assert conn is not None
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                raise self.translate(exc) from exc

        return await asyncio.get_running_loop().run_in_executor(reader, run)

    @property
    def commits(self) -> int:
        return 0 if self._writer is None else self._writer.commits

    # -- operations ----------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[NewJob]) -> list[str]:
        def write(conn: sqlite3.Connection) -> list[str]:
            ids: list[str] = []
            for job in jobs:
                if job.unique_key is not None:
                    row = conn.execute(
                        "SELECT id FROM noormme_jobs WHERE unique_key = ? "
                        "AND status IN ('pending', 'processing')",
                        (job.unique_key,),
                    ).fetchone()
                    if row is not None:
                        ids.append(row[0])
                        continue
                conn.execute(
                    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, "
                    "run_at, created_at, retry_policy, unique_key, timeout) "
                    "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job.id,
                        job.type,
                        job.payload,
                        job.priority,
                        job.max_attempts,
                        job.run_at,
                        job.created_at,
                        job.retry_policy,
                        job.unique_key,
                        job.timeout,
                    ),
                )
                ids.append(job.id)
            return ids

        return await self._write(write, notify=True, on_loop=len(jobs) <= LOOP_SIDE_MAX_ROWS)

    async def claim(
        self, types: Sequence[str], limit: int, *, now: float, lease_until: float, worker_id: str
    ) -> Claim:
        token = uuid.uuid4().hex
        if not types or limit <= 0:
            return Claim(token, [], None)
        type_list = tuple(types)

        def write(conn: sqlite3.Connection) -> Claim:
            rows = conn.execute(
                _claim_sql(len(type_list)),
                (token, worker_id, lease_until, now, now, *type_list, limit),
            ).fetchall()
            jobs = sorted((row_to_job(r) for r in rows), key=claim_order)
            next_run_at = None
            if len(jobs) < limit:
                next_run_at = conn.execute(_next_due_sql(len(type_list)), type_list).fetchone()[0]
            return Claim(token, jobs, next_run_at)

        return await self._write(write)

    async def settle(self, outcomes: Sequence[Outcome], *, now: float) -> list[bool]:
        def write(conn: sqlite3.Connection) -> list[bool]:
            completed = [o for o in outcomes if isinstance(o, Completed)]
            applied_ids = _complete_many(conn, completed, now) if completed else set()
            applied: list[bool] = []
            for outcome in outcomes:
                match outcome:
                    case Completed():
                        applied.append(outcome.job_id in applied_ids)
                        continue
                    case Failed(retry_at=None):
                        cur = conn.execute(
                            _FAIL_SQL,
                            (
                                outcome.attempt.error,
                                now,
                                attempt_json(outcome.attempt),
                                outcome.job_id,
                                outcome.token,
                            ),
                        )
                    case Failed():
                        cur = conn.execute(
                            _RETRY_LATER_SQL,
                            (
                                outcome.attempt.error,
                                outcome.retry_at,
                                attempt_json(outcome.attempt),
                                outcome.job_id,
                                outcome.token,
                            ),
                        )
                    case Released():
                        cur = conn.execute(_RELEASE_SQL, (outcome.job_id, outcome.token))
                applied.append(cur.rowcount == 1)
            return applied

        return await self._write(
            write,
            notify=any(makes_due(o, now) for o in outcomes),
            on_loop=len(outcomes) <= LOOP_SIDE_MAX_ROWS,
        )

    async def extend_leases(self, held: Sequence[tuple[str, str]], lease_until: float) -> set[str]:
        if not held:
            return set()

        def write(conn: sqlite3.Connection) -> set[str]:
            lost: set[str] = set()
            for job_id, token in held:
                cur = conn.execute(
                    "UPDATE noormme_jobs SET lease_until = ?"
                    " WHERE id = ? AND status = 'processing' AND claim_token = ?",
                    (lease_until, job_id, token),
                )
                if cur.rowcount != 1:
                    lost.add(job_id)
            return lost

        return await self._write(write)

    async def expired_leases(self, *, now: float, limit: int) -> list[Expired]:
        def read(conn: sqlite3.Connection) -> list[Expired]:
            # Processing jobs are few (at most every worker's concurrency): the status index.
            rows = conn.execute(
                f"SELECT {COLUMNS}, claim_token FROM noormme_jobs"
                " WHERE status = 'processing' AND lease_until < ? LIMIT ?",
                (now, limit),
            ).fetchall()
            return [Expired(row_to_job(r[:-1]), r[-1]) for r in rows]

        return await self._read(read)

    async def save_progress(self, job_id: str, token: str, progress: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE noormme_jobs SET progress = ?"
                " WHERE id = ? AND status = 'processing' AND claim_token = ?",
                (progress, job_id, token),
            )
            return cur.rowcount == 1

        return await self._write(write)

    async def get(self, job_id: str) -> Job | None:
        def read(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM noormme_jobs WHERE id = ?", (job_id,)
            ).fetchone()
            return None if row is None else row_to_job(row)

        return await self._read(read)

    async def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[Job]:
        sql, params = list_jobs_query(
            COLUMNS, "?", status=status, type=type, before=before, limit=limit
        )

        def read(conn: sqlite3.Connection) -> list[Job]:
            return [row_to_job(r) for r in conn.execute(sql, params)]

        return await self._read(read)

    async def stats(self) -> QueueStats:
        def read(conn: sqlite3.Connection) -> QueueStats:
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM noormme_jobs GROUP BY status"))
            known = {s.value: int(counts.get(s.value, 0)) for s in JobStatus}
            return QueueStats(total=sum(known.values()), **known)

        return await self._read(read)

    async def pending_types(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            # A skip-scan over the (type, run_at) index: one seek per distinct type.
            rows = conn.execute(
                "WITH RECURSIVE t(type) AS ("
                " SELECT MIN(type) FROM noormme_jobs WHERE status = 'pending'"
                " UNION ALL"
                " SELECT (SELECT MIN(type) FROM noormme_jobs"
                "         WHERE status = 'pending' AND type > t.type)"
                " FROM t WHERE t.type IS NOT NULL"
                ") SELECT type FROM t WHERE type IS NOT NULL"
            ).fetchall()
            return [r[0] for r in rows]

        return await self._read(read)

    async def cancel(self, job_id: str, *, now: float) -> JobStatus | None:
        def write(conn: sqlite3.Connection) -> JobStatus | None:
            row = conn.execute("SELECT status FROM noormme_jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row[0] not in ("pending", "processing"):
                return None
            conn.execute(
                "UPDATE noormme_jobs SET status = 'cancelled', finished_at = ?,"
                " claim_token = NULL, lease_until = NULL WHERE id = ?",
                (now, job_id),
            )
            return JobStatus(row[0])

        return await self._write(write)

    async def retry(self, job_id: str, *, now: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            try:
                cur = conn.execute(
                    "UPDATE noormme_jobs SET status = 'pending', attempts = 0, run_at = ?,"
                    " started_at = NULL, finished_at = NULL, error = NULL, result = NULL"
                    " WHERE id = ? AND status IN ('failed', 'cancelled')",
                    (now, job_id),
                )
            except sqlite3.IntegrityError:
                return False  # another live job holds its unique_key
            return cur.rowcount == 1

        return await self._write(write, notify=True)

    async def purge(self, *, finished_before: float, limit: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
                " INDEXED BY noormme_jobs_finished"
                " WHERE status IN ('completed', 'cancelled') AND finished_at < ? LIMIT ?)",
                (finished_before, limit),
            )
            return cur.rowcount

        return await self._write(write, on_loop=False)  # up to 500 deletes: not on the loop

    async def finished_counts(self, *, since: float, width: float) -> list[FinishedCount]:
        def read(conn: sqlite3.Connection) -> list[FinishedCount]:
            rows = conn.execute(_FINISHED_COUNTS, {"since": since, "width": width}).fetchall()
            return [FinishedCount(int(b), int(c), int(f)) for b, c, f in rows]

        return await self._read(read)

    async def explain(self, sql_name: str) -> list[str]:
        """The query plan of one of the store's hot queries (for tests and diagnostics)."""
        queries: dict[str, tuple[str, Any]] = {
            "claim": (_claim_sql(1), ("t", "w", 0.0, 0.0, 0.0, "x", 1)),
            "next_due": (_next_due_sql(1), ("x",)),
            "expired": (
                f"SELECT {COLUMNS}, claim_token FROM noormme_jobs"
                " WHERE status = 'processing' AND lease_until < ? LIMIT ?",
                (0.0, 100),
            ),
            "finished_counts": (_FINISHED_COUNTS, {"since": 0.0, "width": 60.0}),
            "purge": (
                "SELECT id FROM noormme_jobs INDEXED BY noormme_jobs_finished"
                " WHERE status IN ('completed', 'cancelled')"
                " AND finished_at < ? LIMIT ?",
                (0.0, 1),
            ),
        }
        sql, params = queries[sql_name]

        def read(conn: sqlite3.Connection) -> list[str]:
            return [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

        return await self._read(read)


# Completed jobs are many: a range of the partial index on finished_at (its status IN (...)
# repeated so the index applies); failed jobs, the dead-letter record, are few: by status.
_FINISHED_COUNTS = (
    "SELECT CAST((finished_at - :since) / :width AS INTEGER) AS bucket,"
    " SUM(status = 'completed'), SUM(status = 'failed') FROM ("
    " SELECT status, finished_at FROM noormme_jobs INDEXED BY noormme_jobs_finished"
    "  WHERE status IN ('completed', 'cancelled') AND status = 'completed'"
    "  AND finished_at >= :since"
    " UNION ALL"
    " SELECT status, finished_at FROM noormme_jobs WHERE status = 'failed'"
    "  AND finished_at >= :since"
    ") GROUP BY bucket ORDER BY bucket"
)

# Every transition of a claimed job is a compare-and-set on its status and claim token.
_HELD = " WHERE id = ? AND status = 'processing' AND claim_token = ?"
_APPEND_ATTEMPT = "history = json_insert(history, '$[#]', json(?))"
# Completions, the bulk of all settles, are saved with one statement per batch.
COMPLETE_CHUNK = 200


@cache
def _complete_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return (
        f"WITH v(id, token, result, attempt) AS (VALUES {values})"
        " UPDATE noormme_jobs SET status = 'completed', result = v.result, error = NULL,"
        " finished_at = ?, claim_token = NULL, lease_until = NULL,"
        " history = json_insert(history, '$[#]', json(v.attempt))"
        " FROM v WHERE noormme_jobs.id = v.id AND noormme_jobs.status = 'processing'"
        " AND noormme_jobs.claim_token = v.token"
        " RETURNING noormme_jobs.id"
    )


def _complete_many(conn: sqlite3.Connection, outcomes: Sequence[Completed], now: float) -> set[str]:
    applied: set[str] = set()
    for start in range(0, len(outcomes), COMPLETE_CHUNK):
        chunk = outcomes[start : start + COMPLETE_CHUNK]
        params: list[Any] = []
        for o in chunk:
            params += (o.job_id, o.token, o.result, attempt_json(o.attempt))
        params.append(now)
        rows = conn.execute(_complete_sql(len(chunk)), params)
        applied.update(row[0] for row in rows)
    return applied


_FAIL_SQL = (
    "UPDATE noormme_jobs SET status = 'failed', error = ?, finished_at = ?,"
    f" claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}" + _HELD
)
_RETRY_LATER_SQL = (
    "UPDATE noormme_jobs SET status = 'pending', error = ?, run_at = ?,"
    f" claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}" + _HELD
)
_RELEASE_SQL = (
    "UPDATE noormme_jobs SET status = 'pending', attempts = attempts - 1,"
    " claim_token = NULL, lease_until = NULL" + _HELD
)


@cache
def _claim_sql(type_count: int) -> str:
    marks = ", ".join("?" * type_count)
    return (
        "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
        " claim_token = ?, worker_id = ?, lease_until = ?, started_at = ?"
        " WHERE id IN (SELECT id FROM noormme_jobs INDEXED BY noormme_jobs_claim"
        f"   WHERE status = 'pending' AND run_at <= ? AND type IN ({marks})"
        "   ORDER BY priority DESC, run_at, id LIMIT ?)"
        f" RETURNING {COLUMNS}"
    )


@cache
def _next_due_sql(type_count: int) -> str:
    # One index seek per type; MIN over the union.
    per_type = " UNION ALL ".join(
        "SELECT MIN(run_at) AS due FROM noormme_jobs WHERE status = 'pending' AND type = ?"
        for _ in range(type_count)
    )
    return f"SELECT MIN(due) FROM ({per_type})"


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _unwritable_reason(directory: Path) -> str:
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (they contain no semicolons inside literals)."""
    statements = []
    for chunk in script.split(";"):
        lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
        text = "\n".join(lines).strip()
        if text:
            statements.append(text)
    return statements
