"""The SQLite claim: one ``BEGIN IMMEDIATE`` transaction, so claims in every process are
serialised and the limits read inside it hold under any race.

It stages the scheduled jobs that fell due (``STAGE``), reads which (queue, type) pairs have
due jobs (the kept counts), the paused queues and the types' limits (small tables). Without
limits one statement picks and marks (``CLAIM_READY``); otherwise it reads each pair's
candidates from the claim index in claim order, lets
:func:`~noormme_queue.store.claiming.pick` choose, marks the chosen processing by id, and
records the starts of rate-limited types.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..claiming import STAGE_BATCH, Candidate, Limit, plan, ready_pairs
from ..rows import due_time
from . import sql, tally


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
    wanted = set(types)
    limits = {t: Limit(c, rc, rw) for t, c, rc, rw in conn.execute(sql.TYPE_LIMITS) if t in wanted}
    marks = (token, worker_id, lease_until)
    retry_at = None
    if not limits and (queues is None or len({q for q, _ in pairs}) == len(pairs)):
        # The common case (no limits, no queue's budget shared by pairs): one statement.
        rows = _claim_ready(conn, pairs, limit, queues, now, marks)
    else:
        rows, retry_at = _claim_planned(conn, pairs, limit, queues, limits, now, marks)
    next_run_at = None
    if len(rows) < limit:
        next_run_at = due_time(conn.execute(sql.NEXT_DUE).fetchone()[0])
    if retry_at is not None:
        next_run_at = retry_at if next_run_at is None else min(next_run_at, retry_at)
    return rows, next_run_at


def _claim_ready(
    conn: sqlite3.Connection,
    pairs: Sequence[tuple[str, str]],
    limit: int,
    queues: Mapping[str, int] | None,
    now: float,
    marks: tuple[str, str, float],
) -> list[Any]:
    """``CLAIM_READY`` over ``pairs``, each with its queue's budget (as :func:`plan` has it)."""
    token, worker_id, lease_until = marks
    params: dict[str, Any] = {"token": token, "worker_id": worker_id, "now": now}
    params |= {"lease_until": lease_until, "limit": limit}
    taken = 0
    for queue, type_ in pairs:
        budget = limit if queues is None else min(limit, queues.get(queue, 0))
        if budget > 0:
            params |= {f"q{taken}": queue, f"t{taken}": type_, f"b{taken}": budget}
            taken += 1
    if not taken:
        return []
    rows = conn.execute(sql.CLAIM_READY(taken), params).fetchall()
    tally.claimed(conn, rows, now)
    return rows


def _claim_planned(
    conn: sqlite3.Connection,
    pairs: Sequence[tuple[str, str]],
    limit: int,
    queues: Mapping[str, int] | None,
    limits: Mapping[str, Limit],
    now: float,
    marks: tuple[str, str, float],
) -> tuple[list[Any], float | None]:
    """Limited types: candidates read pair by pair, :func:`plan` chooses, marked by id."""
    if any(limited.rate_window is not None for limited in limits.values()):
        # Rate windows are counted on one clock that never runs backwards across processes.
        now = max(now, float(conn.execute(sql.CLAIM_CLOCK, (repr(now),)).fetchone()[0]))
    for type_, limited in limits.items():
        if limited.rate_window is not None:
            _forget_starts(conn, type_, now - limited.rate_window)
    chosen = plan(
        pairs, limit=limit, queues=queues, limits=limits, reader=_Reader(conn, now), now=now
    )
    rows = []
    if chosen.ids:
        rows = conn.execute(sql.CLAIM(len(chosen.ids)), (*marks, now, *chosen.ids)).fetchall()
        tally.claimed(conn, rows, now)
    if chosen.starts:
        keys = [(t, "" if k is None else k) for t, k in chosen.starts]
        conn.executemany(sql.RECORD_START, [(t, k, now) for t, k in keys])
        conn.executemany(sql.COUNT_STARTS, [(t, k, n) for (t, k), n in Counter(keys).items()])
    return rows, chosen.retry_at


def _forget_starts(conn: sqlite3.Connection, type_: str, since: float) -> None:
    gone = Counter(r[0] for r in conn.execute(sql.FORGET_STARTS, (type_, since)))
    conn.executemany(sql.UNCOUNT_STARTS, [(n, type_, key) for key, n in gone.items()])


class _Reader:
    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.now = now

    def candidates(self, queue: str, type_: str, count: int) -> list[Candidate]:
        rows = self.conn.execute(sql.CANDIDATES, (queue, type_, self.now, count))
        return [Candidate(i, queue, type_, k, p, r) for i, k, p, r in rows]

    def running(self, type_: str) -> dict[str | None, int]:
        return {k: n for k, n in self.conn.execute(sql.RUNNING_BY_KEY, (type_,))}

    def started(self, type_: str, keys: set[str | None]) -> dict[str | None, int]:
        stored = ["" if k is None else k for k in keys]
        rows = self.conn.execute(sql.RATE_USAGE(len(stored)), (type_, *stored))
        return {(k or None): int(n) for k, n in rows}

    def oldest_start(self, type_: str, key: str | None, since: float) -> float | None:
        row = self.conn.execute(sql.OLDEST_START, (type_, key or "", since)).fetchone()
        return None if row is None or row[0] is None else float(row[0])
