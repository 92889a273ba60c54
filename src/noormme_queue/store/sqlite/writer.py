"""Group commit: many write requests, one transaction, and an event loop that never waits.

Callers on any event loop submit a function of a connection and await its
result. Requests are grouped: each runs inside its own savepoint (one failing
request never undoes the others) and the group commits once.

Where a group runs:

- **On the event loop, at the end of the current iteration** (the fast path),
  when nothing else is waiting for the writer thread and SQLite grants the
  write lock at once: the loop's own connection has a busy timeout of zero, so
  it never waits on another process, and with ``synchronous=NORMAL`` a WAL
  commit is an append to the page cache, not a disk flush. Everything one
  iteration submitted (fifty producers, or a worker's settle-and-claim) shares
  the transaction. The store turns this path off for ``FULL``, where every
  commit waits for the disk, and for requests too large to hold the loop.
- **On the writer thread** otherwise: when the lock is taken, when requests
  are queued there already, or when a request must not run on the loop. The
  thread waits on locks and the disk so that the loop does not, and hands
  results back with one wake-up per event loop.

The loop's connection never checkpoints; the writer thread does, so the loop
never copies the WAL into the database.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ...core.errors import StoreError
from .locks import LockBusy, wait_for_lock

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 512
CHECKPOINT_EVERY = 200  # commits on the loop's connection between checkpoints by the thread


class _Request:
    __slots__ = ("fn", "future", "loop", "notify")

    def __init__(
        self,
        fn: WriteFn,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        notify: bool,
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future
        self.notify = notify


Outcome = tuple[_Request, Any, BaseException | None]

_STOP = object()
_CHECKPOINT = object()


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        translate: Callable[[BaseException], StoreError],
        name: str = "noormme-queue-writer",
        after_commit: Callable[[], None] | None = None,
        connect_loop_side: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        self._after_commit = after_commit
        self._connect = connect
        self._connect_loop_side = connect_loop_side
        self._translate = translate
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._thread_busy = False
        self._loop_conn: sqlite3.Connection | None = None
        self._loop_lock = threading.Lock()  # one event loop at a time uses _loop_conn
        self._loop_commits = 0
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        self._gathering_lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()  # the thread's connection has migrated the schema
        if self._open_error is not None:
            raise self._open_error
        if self._connect_loop_side is not None:
            self._loop_conn = self._connect_loop_side()

    def submit(
        self, fn: WriteFn, *, notify: bool = False, on_loop: bool = True
    ) -> asyncio.Future[Any]:
        """Queue ``fn(conn)`` for the next transaction; await the returned future. ``fn``
        runs again, its writes undone the first time, when another request of its
        transaction fails: it keeps no state outside ``conn`` that a second run would spoil.

        ``notify``: new work may be due once this commits, so call ``after_commit``.
        ``on_loop``: small enough to run on the event loop's fast path.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        request = _Request(fn, loop, future, notify)
        if self._closed:
            future.set_exception(StoreError("the job store is closed"))
            return future
        if on_loop and self._loop_conn is not None:
            with self._gathering_lock:
                group = self._gathering.get(loop)
                if group is None:
                    self._gathering[loop] = group = []
                    loop.call_soon(self._flush_on_loop, loop)
                group.append(request)
        else:
            self._queue.put(request)
        return future

    def close(self) -> None:
        """Finish every queued request, then close the connections (blocking)."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        with self._loop_lock:
            if self._loop_conn is not None:
                self._loop_conn.close()
                self._loop_conn = None

    # -- the fast path, on an event loop -------------------------------------------------------

    def _flush_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._gathering_lock:
            group = self._gathering.pop(loop, [])
        if not group:
            return
        outcomes: list[Outcome] | None = None
        # Never jump ahead of requests already handed to the thread, and never wait.
        if not self._thread_busy and self._queue.empty() and self._loop_lock.acquire(False):
            try:
                if self._loop_conn is not None:
                    outcomes = self._run_group(self._loop_conn, group, wait=False)
            finally:
                self._loop_lock.release()
        if outcomes is None:
            if self._closed or not self._thread.is_alive():
                closed = StoreError("the job store closed before this write ran")
                _resolve([(req.future, None, closed) for req in group])
                return
            for request in group:
                self._queue.put(request)
            return
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0:
            self._queue.put(_CHECKPOINT)
        _resolve([(req.future, result, error) for req, result, error in outcomes])

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            stopping = False
            while not stopping:
                item = self._queue.get()
                self._thread_busy = True
                batch: list[_Request] = []
                checkpoint = False
                while True:
                    if item is _STOP:
                        stopping = True
                    elif item is _CHECKPOINT:
                        checkpoint = True
                    else:
                        batch.append(item)  # type: ignore[arg-type]
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    outcomes = self._run_group(conn, batch, wait=True)
                    assert outcomes is not None
                    self._deliver(outcomes)
                if checkpoint:
                    self._checkpoint(conn)
                self._thread_busy = False
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (will retry later): %s", exc)

    # -- running one group, on either side -----------------------------------------------------

    def _run_group(
        self, conn: sqlite3.Connection, group: list[_Request], *, wait: bool
    ) -> list[Outcome] | None:
        """Run ``group`` in one transaction. ``None``: not run (no wait allowed, lock busy)."""
        outcomes: list[Outcome] = []
        try:
            try:
                # busy_timeout already waits inside sqlite; keep trying past it (see locks.py)
                wait_for_lock(lambda: conn.execute("BEGIN IMMEDIATE"), wait=wait)
            except LockBusy:
                return None
            if len(group) == 1:
                outcomes.append(self._run_alone(conn, group[0]))
            else:
                together = self._run_together(conn, group)
                if together is None:  # one failed, all undone: each again, in its savepoint
                    try:
                        wait_for_lock(lambda: conn.execute("BEGIN IMMEDIATE"), wait=wait)
                    except LockBusy:
                        return None
                    together = [self._run_one(conn, req) for req in group]
                outcomes = together
            if conn.in_transaction:  # a lone request that failed has rolled back already
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The transaction as a whole failed (disk full, I/O error, lock lost): every
            # request in it is undone, so every caller hears about it; nothing is half-done.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            error = self._translate(exc)
            return [(req, None, error) for req in group]
        if self._after_commit is not None and any(req.notify for req in group):
            try:
                self._after_commit()
            except Exception:  # a missed nudge only delays work until the next poll
                log.exception("after-commit notification failed")
        return outcomes

    def _run_alone(self, conn: sqlite3.Connection, req: _Request) -> Outcome:
        """A group of one needs no savepoint: on a request error, roll back the transaction."""
        try:
            return req, req.fn(conn), None
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and not _request_level(exc):
                raise
            conn.execute("ROLLBACK")
            return req, None, self._translate(exc) if isinstance(exc, sqlite3.Error) else exc

    def _run_together(
        self, conn: sqlite3.Connection, group: list[_Request]
    ) -> list[Outcome] | None:
        """Every request of ``group`` with no savepoint (a savepoint costs two statements a
        request, and one around them all makes SQLite journal every page it changes); if one
        fails, roll the transaction back and return ``None``: the group runs again with a
        savepoint each, so only that one is lost (a request touches only the connection, so
        running it again is running it once)."""
        outcomes: list[Outcome] = []
        for req in group:
            try:
                outcomes.append((req, req.fn(conn), None))
            except Exception as exc:
                if isinstance(exc, sqlite3.Error) and not _request_level(exc):
                    raise  # the whole transaction is in trouble
                conn.execute("ROLLBACK")
                return None
        return outcomes

    def _run_one(self, conn: sqlite3.Connection, req: _Request) -> Outcome:
        conn.execute("SAVEPOINT request")
        try:
            result = req.fn(conn)
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and not _request_level(exc):
                raise  # the whole transaction is in trouble
            conn.execute("ROLLBACK TO request")
            conn.execute("RELEASE request")
            return req, None, self._translate(exc) if isinstance(exc, sqlite3.Error) else exc
        conn.execute("RELEASE request")
        return req, result, None

    @staticmethod
    def _deliver(outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
        for req, result, error in outcomes:
            by_loop.setdefault(req.loop, []).append((req.future, result, error))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass


def _request_level(exc: sqlite3.Error) -> bool:
    """Errors that concern one statement (a constraint) rather than the database."""
    return isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.DataError)


def _resolve(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in items:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
