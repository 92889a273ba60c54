"""The SQLite claim: one ``BEGIN IMMEDIATE`` transaction, so claims in every process are
serialised and the limits read inside it hold under any race.

It stages the scheduled jobs that fell due (``STAGE``), reads which (queue, type) pairs have
due jobs (the kept counts), the paused queues and the types' limits (small tables), reads
each pair's candidates from the claim index in claim order, lets
:func:`~noormme_queue.store.claiming.pick` choose, marks the chosen processing by id, and
records the starts of rate-limited types.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..claiming import STAGE_BATCH, Candidate, Limit, Usage, depth, pick, ready_pairs
from ..rows import due_time
from . import sql


def claim_rows(
    conn: sqlite3.Connection,
    types: Sequence[str],
    limit: int,
    *,
    queues: Mapping[str, int] | None,
    now: float,
    lease_until: float,
    worker_id: str,
    token: str,
) -> tuple[list[Any], float | None]:
    """The claimed rows and when to look again (``None``: at the next poll or wake-up)."""
    conn.execute(sql.STAGE, (now, STAGE_BATCH))
    pairs = ready_pairs(
        conn.execute(sql.READY_PAIRS).fetchall(),
        types=types,
        queues=queues,
        paused=[r[0] for r in conn.execute(sql.PAUSED_QUEUES)],
    )
    limits = {
        t: Limit(c, rc, rw) for t, c, rc, rw in conn.execute(sql.TYPE_LIMITS) if t in set(types)
    }
    usage = {t: _usage(conn, t, lim, now) for t, lim in limits.items()}
    candidates = []
    for queue, type_ in pairs:
        budget = limit if queues is None else min(limit, queues[queue])
        if budget <= 0:
            continue
        count = depth(budget, limits.get(type_), usage.get(type_))
        rows = conn.execute(sql.CANDIDATES, (queue, type_, now, count)).fetchall()
        candidates.append([Candidate(i, queue, type_, k, p, r) for i, k, p, r in rows])
    chosen = pick(candidates, limit=limit, queues=queues, limits=limits, usage=usage, now=now)
    rows = []
    if chosen.ids:
        rows = conn.execute(
            sql.CLAIM(len(chosen.ids)), (token, worker_id, lease_until, now, *chosen.ids)
        ).fetchall()
    for type_, key in chosen.starts:
        conn.execute(sql.RECORD_START, (type_, "" if key is None else key, now))
    next_run_at = None
    if len(rows) < limit:
        next_run_at = due_time(conn.execute(sql.NEXT_DUE).fetchone()[0])
    if chosen.retry_at is not None:
        next_run_at = chosen.retry_at if next_run_at is None else min(next_run_at, chosen.retry_at)
    return rows, next_run_at


def _usage(conn: sqlite3.Connection, type_: str, limit: Limit, now: float) -> Usage:
    usage = Usage()
    if limit.concurrency is not None:
        usage.running = {k: n for k, n in conn.execute(sql.RUNNING_BY_KEY, (type_,))}
    if limit.rate_count is not None and limit.rate_window is not None:
        since = now - limit.rate_window
        conn.execute(sql.FORGET_STARTS, (type_, since))
        for key, n, oldest in conn.execute(sql.STARTS_BY_KEY, (type_, since)):
            usage.started[key or None] = n
            usage.oldest_start[key or None] = oldest
    return usage
