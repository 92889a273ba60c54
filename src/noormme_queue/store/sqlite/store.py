"""The SQLite job store: one file in WAL mode, shared safely by many processes.

Writes (enqueue, claim, settle, cancel, ...) go through the group-commit writer
thread; reads run on a reader thread with its own connection. Claims are one
``UPDATE ... RETURNING`` inside ``BEGIN IMMEDIATE``, and every later
transition is a compare-and-set on ``status`` and ``claim_token``, so a stale
worker can never overwrite a job that was cancelled or recovered meanwhile.
The statements are in ``sql.py``; this module is the plumbing around them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ...core.errors import StoreError
from ...core.events import PYTHON, JobEvent
from ...core.job import Job, JobStatus, QueueStats
from ...core.retry import after_manual_retry
from ...core.threads import run_sync
from ..base import (
    Claim,
    Completed,
    Expired,
    Failed,
    FinishedCount,
    NewJob,
    Outcome,
    Released,
)
from ..events import cancelled, read_events, retried, settled, unreadable
from ..rows import (
    SCHEDULED,
    Unreadable,
    attempt_json,
    claim_order,
    listed_statuses,
    makes_due,
    minute_buckets,
    read_row,
    read_rows,
    row_to_job,
    stats_of,
)
from . import connect, sql, tally
from .caller import CallerTransactions
from .claim import claim_rows
from .inserts import insert_jobs
from .presence import PresenceOperations
from .queues import QueueOps
from .schedules import ScheduleOperations
from .wakeup import WakeupBus
from .writer import GroupCommitWriter

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")

LOOP_SIDE_MAX_ROWS = 64  # larger writes go to the writer thread, so the loop stays responsive
COMPLETE_CHUNK = 200  # completions saved by one statement


class SQLiteStore(QueueOps, CallerTransactions, ScheduleOperations, PresenceOperations):
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
            connect.prepare_file(self.path)
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

    def _connect_writer(self) -> sqlite3.Connection:
        return connect.writer_connection(self.path, self.synchronous)

    def _connect_loop_side(self) -> sqlite3.Connection:
        return connect.loop_side_connection(self.path)

    def _connect_reader(self) -> None:
        self._reader_conn = connect.reader_connection(self.path)

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    def translate(self, exc: BaseException) -> StoreError:
        """Turn a sqlite3 error into a QueueError that names the file and the cause."""
        return connect.translate(self.path, exc)

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
        """Read the workers to wake in the transaction that makes work available: one small
        table, so a worker that started listening a moment ago is never missed. Run again
        after a rollback (writer.py: ``_run_together``), it has taken the dead listeners
        already and their removal is undone: they stay until the next nudge finds them dead."""
        dead = self._bus.take_dead()
        if dead:
            conn.executemany(sql.REMOVE_LISTENER, [(n,) for n in dead])
        self._bus.set_targets([r[0] for r in conn.execute(sql.LISTENERS)])

    async def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        listener = self._bus.listen(on_wakeup)
        if listener is None:

            async def nothing_to_close() -> None:
                return None

            return nothing_to_close
        name = listener.name
        await self._write(
            lambda conn: conn.execute(sql.ADD_LISTENER, (name, os.getpid(), time.time()))
        )

        async def close() -> None:
            listener.close()
            self._bus.forget(listener)
            await self._write(lambda conn: conn.execute(sql.REMOVE_LISTENER, (name,)))

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

    def _fail_unreadable(
        self, conn: sqlite3.Connection, rows: Sequence[tuple[Unreadable, str]], now: float
    ) -> None:
        """Mark held rows that no Job can hold failed, saying why; the rest goes on."""
        for bad, token in rows:
            log.error("job %s was marked failed: its row %s", bad.job_id, bad.error)
            event = json.dumps(unreadable(bad.error, now))
            conn.execute(sql.FAIL_UNREADABLE, (bad.error, now, event, bad.job_id, token))

    # -- operations ----------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[NewJob]) -> list[str]:
        return await self._write(
            lambda conn: insert_jobs(conn, jobs),
            notify=True,
            on_loop=len(jobs) <= LOOP_SIDE_MAX_ROWS,
        )

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
        claim = self._claiming(types, limit, now, lease_until, worker_id, queues)
        if isinstance(claim, Claim):
            return claim
        return await self._write(claim)

    def _claiming(
        self,
        types: Sequence[str],
        limit: int,
        now: float,
        lease_until: float,
        worker_id: str,
        queues: Mapping[str, int] | None,
    ) -> Claim | Callable[[sqlite3.Connection], Claim]:
        """A claim's write, or the empty claim when it has nothing to take."""
        token = uuid.uuid4().hex
        if not types or limit <= 0:
            return Claim(token, [], None)

        def write(conn: sqlite3.Connection) -> Claim:
            rows, next_run_at = claim_rows(
                conn,
                types,
                limit,
                queues=queues,
                now=now,
                lease_until=lease_until,
                worker_id=worker_id,
                token=token,
            )
            jobs, unreadable = read_rows(rows)
            self._fail_unreadable(conn, [(bad, token) for bad in unreadable], now)
            jobs.sort(key=claim_order)
            return Claim(token, jobs, next_run_at)

        return write

    async def settle(self, outcomes: Sequence[Outcome], *, now: float) -> list[bool]:
        return await self._write(
            self._settling(outcomes, now),
            notify=any(makes_due(o, now) for o in outcomes),
            on_loop=len(outcomes) <= LOOP_SIDE_MAX_ROWS,
        )

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
        settle = self._settling(outcomes, now)
        claim = self._claiming(types, limit, now, lease_until, worker_id, queues)

        def write(conn: sqlite3.Connection) -> tuple[list[bool], Claim]:
            settled = settle(conn)  # first: the claim sees what it changed
            return settled, claim if isinstance(claim, Claim) else claim(conn)

        return await self._write(
            write,
            notify=any(makes_due(o, now) for o in outcomes),
            on_loop=len(outcomes) <= LOOP_SIDE_MAX_ROWS,
        )

    def _settling(
        self, outcomes: Sequence[Outcome], now: float
    ) -> Callable[[sqlite3.Connection], list[bool]]:
        """A settle's write."""

        def write(conn: sqlite3.Connection) -> list[bool]:
            completed = [o for o in outcomes if isinstance(o, Completed)]
            applied_ids = _complete_many(conn, completed, now) if completed else set()
            applied: list[bool] = []
            for outcome in outcomes:
                match outcome:
                    case Completed():
                        applied.append(outcome.job_id in applied_ids)
                        continue
                    case Released():
                        (event,) = (json.dumps(e) for e in settled(outcome, now))
                        cur = conn.execute(sql.RELEASE, (event, outcome.job_id, outcome.token))
                    case Failed():
                        error, record = outcome.attempt.error, attempt_json(outcome.attempt)
                        events = [json.dumps(e) for e in settled(outcome, now)]
                        held = (outcome.job_id, outcome.token)
                        if outcome.retry_at is None:
                            args: tuple[Any, ...] = (error, now, record, *events, *held)
                            cur = conn.execute(sql.FAIL, args)
                        else:
                            due = outcome.retry_at <= now
                            args = ("pending" if due else SCHEDULED, error, outcome.retry_at)
                            args += (record, *events, *held)
                            cur = conn.execute(sql.RETRY_LATER, args)
                applied.append(cur.rowcount == 1)
            return applied

        return write

    async def extend_leases(self, held: Sequence[tuple[str, str]], lease_until: float) -> set[str]:
        if not held:
            return set()

        def write(conn: sqlite3.Connection) -> set[str]:
            return {
                job_id
                for job_id, token in held
                if conn.execute(sql.EXTEND_LEASES, (lease_until, job_id, token)).rowcount != 1
            }

        return await self._write(write)

    async def expired_leases(self, *, now: float, limit: int) -> list[Expired]:
        def read(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql.EXPIRED_LEASES, (now, limit)).fetchall()

        expired: list[Expired] = []
        unreadable: list[tuple[Unreadable, str]] = []
        for row in await self._read(read):
            job = read_row(row[:-1])
            if isinstance(job, Unreadable):
                unreadable.append((job, row[-1]))
            else:
                expired.append(Expired(job, row[-1]))
        if unreadable:
            await self._write(lambda conn: self._fail_unreadable(conn, unreadable, now))
        return expired

    async def save_progress(self, job_id: str, token: str, progress: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.SAVE_PROGRESS, (progress, job_id, token)).rowcount == 1

        return await self._write(write)

    async def job_events(self, job_id: str, *, limit: int) -> list[JobEvent]:
        def read(conn: sqlite3.Connection) -> list[JobEvent]:
            row = conn.execute(sql.JOB_EVENTS, (job_id,)).fetchone()
            return [] if row is None else read_events(job_id, row, limit)

        return await self._read(read)

    async def get(self, job_id: str) -> Job | None:
        def read(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(sql.GET, (job_id,)).fetchone()
            return None if row is None else row_to_job(row)

        return await self._read(read)

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
        rest = [p for p in (type, queue, before) if p is not None]
        params: list[Any] = [v for s in statuses for v in (s, *rest, limit)] or [*rest, limit]
        if len(statuses) > 1:
            params.append(limit)

        def read(conn: sqlite3.Connection) -> list[Job]:
            return [row_to_job(r) for r in conn.execute(query, params)]

        return await self._read(read)

    async def stats(self, queue: str | None = None) -> QueueStats:
        def read(conn: sqlite3.Connection) -> QueueStats:
            if queue is not None:
                return stats_of(conn.execute(sql.QUEUE_STATS, (queue,)).fetchall())
            return stats_of(conn.execute(sql.STATS).fetchall())

        return await self._read(read)

    async def pending_types(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            return [r[0] for r in conn.execute(sql.PENDING_TYPES)]

        return await self._read(read)

    async def cancel(self, job_id: str, *, now: float, by: str = PYTHON) -> JobStatus | None:
        event = json.dumps(cancelled(by, now))

        def write(conn: sqlite3.Connection) -> JobStatus | None:
            row = conn.execute(sql.LIVE_STATUS, (job_id,)).fetchone()
            if row is None:
                return None
            conn.execute(sql.CANCEL, (now, event, job_id))
            return JobStatus.PENDING if row[0] == SCHEDULED else JobStatus(row[0])

        return await self._write(write)

    async def retry(self, job_id: str, *, now: float, by: str = PYTHON) -> bool:
        event = json.dumps(retried(by, now))

        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql.RETRYABLE, (job_id,)).fetchone()
            if row is None:
                return False
            runs = after_manual_retry(attempts_made=row[0], budget=row[1])
            try:
                return conn.execute(sql.RETRY, (runs, now, event, job_id)).rowcount == 1
            except sqlite3.IntegrityError:
                return False  # another live job holds its unique_key

        return await self._write(write, notify=True)

    async def purge(self, *, finished_before: float, limit: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(sql.PURGE, (finished_before, limit)).rowcount

        return await self._write(write, on_loop=False)  # up to 500 deletes: not on the loop

    async def purge_minutes(self, *, before: float) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(sql.PURGE_MINUTES, (int(before // 60),)).rowcount

        return await self._write(write, on_loop=False)

    async def finished_counts(self, *, since: float, width: float) -> list[FinishedCount]:
        def read(conn: sqlite3.Connection) -> list[FinishedCount]:
            if since % 60 == 0 and width % 60 == 0:  # whole minutes: the kept counts
                minutes = conn.execute(sql.FINISHED_MINUTES, (int(since // 60),)).fetchall()
                return minute_buckets(minutes, since=since, width=width)
            rows = conn.execute(sql.FINISHED_COUNTS, {"since": since, "width": width})
            return [FinishedCount(int(b), int(c), int(f)) for b, c, f in rows]

        return await self._read(read)


def _complete_many(conn: sqlite3.Connection, outcomes: Sequence[Completed], now: float) -> set[str]:
    applied: set[str] = set()
    for start in range(0, len(outcomes), COMPLETE_CHUNK):
        chunk = outcomes[start : start + COMPLETE_CHUNK]
        params: list[Any] = []
        for o in chunk:
            params += (o.job_id, o.token, o.result, attempt_json(o.attempt))
        params.append(now)
        rows = conn.execute(sql.COMPLETE(len(chunk)), params).fetchall()
        applied.update(row[0] for row in rows)
        tally.completed(conn, ((q, t) for _, q, t in rows), now)
    return applied
