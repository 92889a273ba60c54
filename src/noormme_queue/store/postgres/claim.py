"""The PostgreSQL claim.

Types without limits, nearly all, are claimed by one statement (``sql.CLAIM_READY``): it
stages the scheduled jobs that fell due, picks the (queue, type) pairs with due jobs from
the kept counts, seeks each pair's first due jobs in the claim index with
``FOR UPDATE SKIP LOCKED`` (so concurrent workers never wait on one another nor take the
same job), and marks the first ``limit`` processing.

A worker that handles a type with a concurrency or rate limit claims in a transaction that
first locks the limited types' ``noormme_types`` rows, so two workers' claims of one
limited type never interleave: it stages due jobs, reads what the limited types use
(processing jobs, starts in the window) and the first page of every pair it may take from,
lets :func:`~noormme_queue.store.claiming.plan` choose in claim order across them, marks
the picks by id and records the starts, as SQLite does in its one ``BEGIN IMMEDIATE``; in
two round trips (``_claim_planned``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.errors import LockNotAvailable
from psycopg.pq import TransactionStatus

from ..claiming import FORGET_BATCH, STAGE_BATCH, Candidate, Limit, plan
from ..rows import COLUMNS, due_time
from . import sql
from .pool import Conn


def ready_args(params: dict[str, Any], queues: Mapping[str, int] | None) -> dict[str, Any]:
    """``params`` and what ``CLAIM_READY`` (and ``SETTLE_AND_CLAIM``) take besides."""
    return params | {
        "stage": STAGE_BATCH,
        "all_queues": queues is None,
        "queues": [] if queues is None else list(queues),
        "budgets": [] if queues is None else list(queues.values()),
    }


Ready = tuple[list[Any], int, float | None]
"""Rows claimed among types without limits, how many jobs were staged, and when the next
scheduled job falls due."""


def read_ready(rows: Sequence[Any]) -> tuple[Ready, list[tuple[Any, Any]]]:
    """``CLAIM_READY``'s rows (or ``SETTLE_AND_CLAIM``'s), and the (kind, id) of each
    outcome the statement applied."""
    *body, trailer = rows
    claimed = [r[1:-2] for r in body if r[0] == "j"]
    return (claimed, int(trailer[-2] or 0), due_time(trailer[-1])), [
        (r[0], r[1]) for r in body if r[0] != "j"
    ]


def claim_ready(conn: Conn, params: dict[str, Any], queues: Mapping[str, int] | None) -> Ready:
    ready, _ = read_ready(conn.execute(sql.CLAIM_READY, ready_args(params, queues)).fetchall())
    return ready


def claim_planned(
    conn: Conn,
    params: dict[str, Any],
    types: Sequence[str],
    limit: int,
    queues: Mapping[str, int] | None,
    concurrent: frozenset[str],
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
        return _claim_planned(
            conn, params, types, limit, queues, nowait=grouped, concurrent=concurrent
        )
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
    concurrent: frozenset[str],
) -> tuple[list[Any], float | None]:
    now = params["now"]
    wanted = {
        "types": list(types),
        "limit": limit,
        "now": now,
        "all_queues": queues is None,
        "queues": [] if queues is None else list(queues),
        "budgets": [] if queues is None else list(queues.values()),
    }
    # Pipelined: statements sent before the first of their results is read share one round
    # trip. The first holds the savepoint or BEGIN, the types' locks with staging, the rate
    # clock and the forgotten starts (one statement), every wanted pair's first page with
    # its keys' starts (one), and the running jobs of the types with a concurrency limit;
    # the second the marks with the starts and the next due time (one), and the commit. A
    # lock not available still rolls back this savepoint alone, not a settle grouped before.
    with conn.pipeline():
        with conn.transaction():
            locking = sql.LOCK_LIMITS_NOWAIT if nowait else sql.LOCK_LIMITS
            locks = {"types": list(types), "now": now, "stage": STAGE_BATCH, "forget": FORGET_BATCH}
            locked = conn.execute(locking, locks)
            pages = conn.execute(sql.PLANNED_CANDIDATES, wanted)
            running = {
                t: conn.execute(sql.RUNNING_BY_KEY, {"type": t}) for t in types if t in concurrent
            }
            limits: dict[str, Limit] = {}
            for type_, c, rc, rw, clock in locked.fetchall():
                limits[type_] = Limit(c, rc, rw)
                if clock is not None:  # rate windows are counted on one clock
                    now = max(now, float(clock))
            reader = _Reader(conn, now, pages.fetchall(), running)
            chosen = plan(
                reader.pairs, limit=limit, queues=queues, limits=limits, reader=reader, now=now
            )
            marks = params | {
                "now": now,
                "ids": chosen.ids,
                "start_types": [t for t, _ in chosen.starts],
                "start_keys": ["" if k is None else k for _, k in chosen.starts],
            }
            claimed = conn.execute(sql.CLAIM_PLANNED, marks)
        # The commit leaves with the marks: their round trip is the commit's. Should either
        # fail, the error leaves here and the pool rolls the connection back.
        *rows, trailer = claimed.fetchall()
    scheduled = due_time(trailer[-1])
    retry_at = chosen.retry_at
    if scheduled is not None:
        retry_at = scheduled if retry_at is None else min(retry_at, scheduled)
    return [r[:-1] for r in rows], retry_at


class _Reader:
    """What :func:`plan` reads, from the pages and running counts sent with the locks; a
    read they do not answer (a deeper page, a key first seen there) is a statement of its
    own."""

    def __init__(
        self, conn: Conn, now: float, pages: Sequence[Any], running: Mapping[str, Any]
    ) -> None:
        self.conn = conn
        self.now = now
        self._running = dict(running)
        self._pages: dict[tuple[str, str, int], list[Candidate]] = {}
        self._started: dict[str, dict[str | None, int]] = {}
        for queue, type_, budget, id_, key, priority, run_at, n in pages:
            page = self._pages.setdefault((queue, type_, budget), [])
            if id_ is not None:
                page.append(Candidate(id_, queue, type_, key, priority, run_at))
                self._started.setdefault(type_, {})[key] = int(n or 0)
        self.pairs = sorted({(queue, type_) for queue, type_, _ in self._pages})

    def candidates(self, queue: str, type_: str, count: int) -> list[Candidate]:
        page = self._pages.pop((queue, type_, count), None)
        if page is not None:
            return page
        params = {"queue": queue, "type": type_, "now": self.now, "limit": count}
        rows = self.conn.execute(sql.CANDIDATES, params).fetchall()
        return [Candidate(i, queue, type_, k, p, r) for i, k, p, r in rows]

    def running(self, type_: str) -> dict[str | None, int]:
        sent = self._running.pop(type_, None)
        rows = sent or self.conn.execute(sql.RUNNING_BY_KEY, {"type": type_})
        return {k: int(n) for k, n in rows}

    def started(self, type_: str, keys: set[str | None]) -> dict[str | None, int]:
        known = self._started.get(type_, {})
        counts = {k: known[k] for k in keys if k in known}
        missing = ["" if k is None else k for k in keys if k not in known]
        if missing:
            rows = self.conn.execute(sql.RATE_USAGE, {"type": type_, "keys": missing})
            counts |= {(k or None): int(n) for k, n in rows}
        return counts

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
