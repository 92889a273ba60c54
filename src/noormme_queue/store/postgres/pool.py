"""Running functions of a pooled connection on the store's threads, writes grouped.

Every operation runs a plain function of a connection (autocommit) on a small thread pool,
as many threads as the ``psycopg_pool.ConnectionPool`` has connections, through
``loop.run_in_executor``: loop-agnostic, one pool of connections per store, and the event
loop never waits on the network. Writes submitted in one event-loop iteration (many producers;
a worker's cycle is one write already) share one transaction and one commit, in the order
they were submitted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from ...core.errors import StoreError, StoreUnavailable

T = TypeVar("T")
Conn = psycopg.Connection[Any]
Result = tuple[Any, BaseException | None]


def records(rows: Sequence[Sequence[Any]]) -> str:
    """A batch's rows as one parameter, the JSON array of arrays that ``_rows`` in sql.py
    reads (each row's values in its columns' order): psycopg dumps an array parameter
    element by element in Python, json in C (a new job: 16 one-element arrays)."""
    return json.dumps(rows, separators=(",", ":"))


class _GroupSpoilt(Exception):
    """A grouped transaction must be rolled back and its requests run one by one."""


class Runner:
    def __init__(
        self,
        pool: ConnectionPool[Conn],
        threads: int,
        translate: Callable[[BaseException], StoreError],
        description: str,
    ) -> None:
        self._pool = pool
        self._description = description
        self._executor = ThreadPoolExecutor(threads, "noormme-queue-pg")
        self._translate = translate
        self._lock = threading.Lock()
        self._gathering: dict[asyncio.AbstractEventLoop, list[tuple[Callable[[Conn], Any], Any]]]
        self._gathering = {}
        self._writes: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, set[asyncio.Future[Any]]
        ] = weakref.WeakKeyDictionary()

    def close(self) -> None:
        """Finish what runs, then close the connections (blocking)."""
        self._executor.shutdown(wait=True)
        self._pool.close()

    async def run(self, fn: Callable[[Conn], T], *, write: bool = False) -> T:
        loop = asyncio.get_running_loop()
        if not write:
            try:
                running = loop.run_in_executor(self._executor, self.call, fn)
            except RuntimeError:  # shut down
                raise self._closed() from None
            return await running
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            group = self._gathering.get(loop)
            if group is None:
                self._gathering[loop] = group = []
                loop.call_soon(self._flush, loop)
            group.append((fn, future))
        return await future

    async def writes_settled(self) -> None:
        """Wait for the writes this event loop submitted before now.

        Operations run concurrently on several connections, but a claim should see what its
        loop wrote before it (a worker's settle sent alone, a retry put back to ``pending``
        that must count in the claim's ``next_run_at``), as it would in SQLite's single
        writer. So a claim first waits for the writes already in flight from its loop (one
        extra round trip at most).
        """
        with self._lock:
            pending = list(self._writes.get(asyncio.get_running_loop(), ()))
        if pending:
            await asyncio.wait(pending)

    def _closed(self) -> StoreError:
        return StoreUnavailable(f"the job store for {self._description} is closed")

    def call(self, fn: Callable[[Conn], T]) -> T:
        try:
            with self._pool.connection() as conn:
                return fn(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._translate(exc) from exc

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            group = self._gathering.pop(loop, [])
        if not group:
            return
        try:
            running = loop.run_in_executor(
                self._executor, self._call_group, [fn for fn, _ in group]
            )
        except RuntimeError:  # closed meanwhile: nobody may wait forever
            for _, future in group:
                if not future.done():
                    future.set_exception(self._closed())
            return
        with self._lock:
            pending = self._writes.setdefault(loop, set())
        pending.add(running)

        def done(task: asyncio.Future[list[Result]]) -> None:
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

    def _call_group(self, fns: list[Callable[[Conn], Any]]) -> list[Result]:
        if len(fns) == 1:
            try:
                return [(self.call(fns[0]), None)]
            except Exception as exc:
                return [(None, exc)]

        def run_all(conn: Conn) -> list[Result]:
            with conn.transaction():
                outcomes: list[Result] = [(fn(conn), None) for fn in fns]
                if conn.info.transaction_status == TransactionStatus.INERROR:
                    # A request caught its own error (retry's unique-key conflict), but the
                    # transaction is spoilt: COMMIT would quietly roll everything back.
                    raise _GroupSpoilt
                return outcomes

        try:
            return self.call(run_all)
        except Exception:
            # One request failed, and the transaction with it (nothing was committed): run
            # each on its own, so only that one fails. Rare enough not to pay for a savepoint
            # per request in the common case.
            outcomes: list[Result] = []
            for fn in fns:
                try:
                    outcomes.append((self.call(fn), None))
                except Exception as exc:
                    outcomes.append((None, exc))
            return outcomes
