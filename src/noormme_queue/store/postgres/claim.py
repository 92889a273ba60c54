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

from ..claiming import STAGE_BATCH, Candidate, Limit, Usage, depth, pick, ready_pairs
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
    """Rows claimed among ``types``, some of them limited (in one transaction), and when a
    job held back by a rate limit may start.

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
    with conn.transaction():
        limits = {
            t: Limit(c, rc, rw) for t, c, rc, rw in conn.execute(locking, {"types": list(types)})
        }
        conn.execute(sql.STAGE, {"now": now, "stage": STAGE_BATCH})
        pairs = ready_pairs(
            conn.execute(sql.READY_PAIRS).fetchall(),
            types=types,
            queues=queues,
            paused=[r[0] for r in conn.execute(sql.PAUSED_QUEUES)],
        )
        usage = {t: _usage(conn, t, lim, now) for t, lim in limits.items()}
        candidates = []
        for queue, type_ in pairs:
            budget = limit if queues is None else min(limit, queues[queue])
            if budget <= 0:
                continue
            count = depth(budget, limits.get(type_), usage.get(type_))
            found = conn.execute(
                sql.CANDIDATES, {"queue": queue, "type": type_, "now": now, "limit": count}
            ).fetchall()
            candidates.append([Candidate(i, queue, type_, k, p, r) for i, k, p, r in found])
        chosen = pick(candidates, limit=limit, queues=queues, limits=limits, usage=usage, now=now)
        rows: list[Any] = []
        if chosen.ids:
            rows = conn.execute(sql.CLAIM, params | {"ids": chosen.ids}).fetchall()
        if chosen.starts:
            conn.execute(
                sql.RECORD_START,
                {
                    "now": now,
                    "types": [t for t, _ in chosen.starts],
                    "keys": ["" if k is None else k for _, k in chosen.starts],
                },
            )
    return rows, chosen.retry_at


def _usage(conn: Conn, type_: str, limit: Limit, now: float) -> Usage:
    usage = Usage()
    if limit.concurrency is not None:
        usage.running = {k: int(n) for k, n in conn.execute(sql.RUNNING_BY_KEY, {"type": type_})}
    if limit.rate_count is not None and limit.rate_window is not None:
        since = now - limit.rate_window
        conn.execute(sql.FORGET_STARTS, {"type": type_, "since": since})
        for key, n, oldest in conn.execute(sql.STARTS_BY_KEY, {"type": type_, "since": since}):
            usage.started[key or None] = int(n)
            usage.oldest_start[key or None] = float(oldest)
    return usage


def less_taken(queues: Mapping[str, int] | None, rows: Sequence[Any]) -> dict[str, int] | None:
    """Queue budgets less what was claimed already."""
    if queues is None:
        return None
    left = dict(queues)
    queue_at = COLUMNS.index("queue")
    for row in rows:
        left[row[queue_at]] = left.get(row[queue_at], 0) - 1
    return left
