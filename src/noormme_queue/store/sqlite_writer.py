"""Group commit: one thread owns the write connection and commits many requests at once.

Callers on any event loop submit a function of the connection and await its
result. The thread takes every request waiting, runs each inside its own
savepoint (one failing request never undoes the others), commits once, and
hands results back with one wake-up per event loop. The event loop never waits
on disk or on another process's lock: only this thread does.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import StoreError

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

MAX_BATCH = 512
BUSY_GIVE_UP_AFTER = 60.0  # seconds of "database is locked" before requests fail


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


_STOP = object()


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        translate: Callable[[BaseException], StoreError],
        name: str = "noormme-queue-writer",
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._after_commit = after_commit
        self._connect = connect
        self._translate = translate
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self.commits = 0  # transactions committed, for tests and stats

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    def submit(self, fn: WriteFn, *, notify: bool = False) -> asyncio.Future[Any]:
        """Queue ``fn(conn)`` for the next transaction; await the returned future.

        ``notify``: new work may be due once this commits, so call ``after_commit``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Request(fn, loop, future, notify))
        return future

    def close(self) -> None:
        """Finish every queued request, then close the connection (blocking)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

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
                batch: list[_Request] = []
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                    else:
                        batch.append(item)  # type: ignore[arg-type]
                if batch:
                    self._run_batch(conn, batch)
        finally:
            conn.close()

    def _begin(self, conn: sqlite3.Connection) -> None:
        # busy_timeout already waits inside sqlite; keep trying past it so that a long
        # lock held by another process delays callers instead of failing them.
        deadline = time.monotonic() + BUSY_GIVE_UP_AFTER
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or (
                    time.monotonic() > deadline
                ):
                    raise
                log.warning("database busy for a long time; still waiting for the write lock")

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        outcomes: list[tuple[_Request, Any, BaseException | None]] = []
        try:
            self._begin(conn)
            for req in batch:
                outcomes.append(self._run_one(conn, req))
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            # The transaction as a whole failed (disk full, I/O error, lock lost): every
            # request in it is undone, so every caller hears about it; nothing is half-done.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            error = self._translate(exc)
            outcomes = [(req, None, error) for req in batch]
        else:
            if self._after_commit is not None and any(req.notify for req in batch):
                try:
                    self._after_commit()
                except Exception:  # a missed nudge only delays work until the next poll
                    log.exception("after-commit notification failed")
        self._deliver(outcomes)

    def _run_one(
        self, conn: sqlite3.Connection, req: _Request
    ) -> tuple[_Request, Any, BaseException | None]:
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
    def _deliver(outcomes: list[tuple[_Request, Any, BaseException | None]]) -> None:
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
