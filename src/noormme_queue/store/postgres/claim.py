"""The PostgreSQL claim.

Types without limits, nearly all, are claimed by one statement (``sql.CLAIM_READY``): it
stages the scheduled jobs that fell due, picks the (queue, type) pairs with due jobs from
the kept counts, seeks each pair's first due jobs in the claim index with
``FOR UPDATE SKIP LOCKED`` (so concurrent workers never wait on one another nor take the
same job), and marks the first ``limit`` processing.

A worker that handles a type with a concurrency or rate limit claims in a transaction that
first locks the limited types' ``noormme_types`` rows, so two workers' claims of one
limited type never interleave: it stages due jobs, reads what the limited types use
(processing jobs, starts in the window), reads candidates pair by pair for all its types,
lets :func:`~noormme_queue.store.claiming.pick` choose in claim order across them, marks
the picks by id and records the starts, as SQLite does in its one ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.errors import LockNotAvailable
from psycopg.pq import TransactionStatus

from ..claiming import STAGE_BATCH, Candidate, Limit, plan, ready_pairs
from ..rows import COLUMNS, due_time
from . import sql
from .pool import Conn


def claim_ready(
    conn: Conn,
    params: dict[str, Any],
    queues: Mapping[str, int] | None,
) -> tuple[list[Any], int, float | None]:
    """Rows claimed among types without limits, how many jobs were staged, and when the
    next scheduled job falls due."""
    args = params | {
        "stage": STAGE_BATCH,
        "all_queues": queues is None,
        "queues": [] if queues is None else list(queues),
        "budgets": [] if queues is None else list(queues.values()),
    }
    rows = conn.execute(sql.CLAIM_READY, args).fetchall()
    *claimed, trailer = rows
    return [r[:-2] for r in claimed], int(trailer[-2] or 0), due_time(trailer[-1])


def claim_planned(
    conn: Conn,
    params: dict[str, Any],
    types: Sequence[str],
    limit: int,
    queues: Mapping[str, int] | None,
) -> tuple[list[Any], float | None]:
    """Rows claimed among ``types``, some of them limited (in one transaction), and when to
    look again: when a job held back by a rate limit may start, or the next scheduled job
    falls due, whichever comes first.

    Saved with a settle (the pool groups a worker's two writes in one transaction), the
    claim already holds row locks of the kept counts when it locks the types' rows; another
    worker's claim holding those may be about to add to the same counts (connections share
    a shard when their backend pids do modulo 16): each would wait for the other until
    PostgreSQL's deadlock_timeout. So a claim inside a transaction never waits for the
    types' locks: when another claim holds them, it takes nothing and asks to look again at
    once (alone then, it waits its turn)."""
    now = params["now"]
    grouped = conn.info.transaction_status != TransactionStatus.IDLE
    try:
        return _claim_planned(conn, params, types, limit, queues, nowait=grouped)
    except LockNotAvailable:
        return [], now


def _claim_planned(
    conn: Conn,
    params: dict[str, Any],
    types: Sequence[str],
    limit: int,
    queues: Mapping[str, int] | None,
    *,
    nowait: bool,
) -> tuple[list[Any], float | None]:
    now = params["now"]
    locking = sql.TYPE_LIMITS_NOWAIT if nowait else sql.TYPE_LIMITS
    # Pipelined: statements sent before the first of their results is read share one round
    # trip (the savepoint or BEGIN, the types' locks, staging, pairs and paused queues; what
    # the pairs and types use; the marks, starts and next due time), not one each. A lock
    # not available still rolls back this savepoint alone, not a settle grouped before it.
    with conn.pipeline(), conn.transaction():
        locked = conn.execute(locking, {"types": list(types)})
        conn.execute(sql.STAGE, {"now": now, "stage": STAGE_BATCH})
        ready = conn.execute(sql.READY_PAIRS)
        paused = conn.execute(sql.PAUSED_QUEUES)
        limits = {t: Limit(c, rc, rw) for t, c, rc, rw in locked.fetchall()}
        pairs = ready_pairs(
            ready.fetchall(), types=types, queues=queues, paused=[r[0] for r in paused]
        )
        if any(limited.rate_window is not None for limited in limits.values()):
            # Rate windows are counted on one clock that never runs backwards.
            clock = conn.execute(sql.CLAIM_CLOCK, {"now": now}).fetchone()
            assert clock is not None
            now = max(now, float(clock[0]))
            params = params | {"now": now}
        for type_, limited in limits.items():
            if limited.rate_window is not None:
                since = now - limited.rate_window
                conn.execute(sql.FORGET_STARTS, {"type": type_, "since": since})
        reader = _Reader(conn, now)
        reader.prefetch(pairs, limit, queues, limits)
        chosen = plan(pairs, limit=limit, queues=queues, limits=limits, reader=reader, now=now)
        claimed = conn.execute(sql.CLAIM, params | {"ids": chosen.ids}) if chosen.ids else None
        if chosen.starts:
            starts = {
                "now": now,
                "types": [t for t, _ in chosen.starts],
                "keys": ["" if k is None else k for _, k in chosen.starts],
            }
            conn.execute(sql.RECORD_START, starts)
            conn.execute(sql.COUNT_STARTS, starts)
        due = conn.execute(sql.NEXT_DUE)
        rows: list[Any] = [] if claimed is None else claimed.fetchall()
        scheduled = due_time(due.fetchone()[0])  # type: ignore[index]
    retry_at = chosen.retry_at
    if scheduled is not None:
        retry_at = scheduled if retry_at is None else min(retry_at, scheduled)
    return rows, retry_at


class _Reader:
    def __init__(self, conn: Conn, now: float) -> None:
        self.conn = conn
        self.now = now
        self._candidates: dict[tuple[str, str, int], Any] = {}
        self._running: dict[str, Any] = {}

    def prefetch(
        self,
        pairs: Sequence[tuple[str, str]],
        limit: int,
        queues: Mapping[str, int] | None,
        limits: Mapping[str, Limit],
    ) -> None:
        """Send the reads :func:`plan` makes first (each pair's first page, the limited
        types' running jobs) before reading any of them: one round trip in a pipeline."""
        for queue, type_ in pairs:
            count = limit if queues is None else min(limit, queues.get(queue, 0))
            if count > 0:
                self._candidates[queue, type_, count] = self._send_candidates(queue, type_, count)
        for type_, limited in limits.items():
            if limited.concurrency is not None:
                self._running[type_] = self.conn.execute(sql.RUNNING_BY_KEY, {"type": type_})

    def _send_candidates(self, queue: str, type_: str, count: int) -> Any:
        params = {"queue": queue, "type": type_, "now": self.now, "limit": count}
        return self.conn.execute(sql.CANDIDATES, params)

    def candidates(self, queue: str, type_: str, count: int) -> list[Candidate]:
        sent = self._candidates.pop((queue, type_, count), None)
        rows = (sent or self._send_candidates(queue, type_, count)).fetchall()
        return [Candidate(i, queue, type_, k, p, r) for i, k, p, r in rows]

    def running(self, type_: str) -> dict[str | None, int]:
        sent = self._running.pop(type_, None)
        rows = sent or self.conn.execute(sql.RUNNING_BY_KEY, {"type": type_})
        return {k: int(n) for k, n in rows}

    def started(self, type_: str, keys: set[str | None]) -> dict[str | None, int]:
        stored = ["" if k is None else k for k in keys]
        rows = self.conn.execute(sql.RATE_USAGE, {"type": type_, "keys": stored})
        return {(k or None): int(n) for k, n in rows}

    def oldest_start(self, type_: str, key: str | None, since: float) -> float | None:
        params = {"type": type_, "key": key or "", "since": since}
        row = self.conn.execute(sql.OLDEST_START, params).fetchone()
        return None if row is None or row[0] is None else float(row[0])


def less_taken(queues: Mapping[str, int] | None, rows: Sequence[Any]) -> dict[str, int] | None:
    """Queue budgets less what was claimed already."""
    if queues is None:
        return None
    left = dict(queues)
    queue_at = COLUMNS.index("queue")
    for row in rows:
        left[row[queue_at]] = left.get(row[queue_at], 0) - 1
    return left
