"""The kept counts of the statements that change many jobs at once.

``noormme_counts`` (jobs by queue, type and status) and ``noormme_minutes`` (jobs started
and finished per minute and queue) are kept by triggers, row by row, for every change
whoever makes it: one statement for each job inserted, three for each job claimed or
completed. The claim, the completions and a batch of new jobs flip each row's ``tally`` bit
instead, which tells the triggers the statement counts the row itself, and add their changes
here in one row per group (schema 8). Values go back as the rows hold them, so a group here
is the group a trigger would have counted the row in.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..rows import COLUMNS
from . import sql

_QUEUE, _TYPE, _RUN_AT = (COLUMNS.index(c) for c in ("queue", "type", "run_at"))

Group = tuple[Any, Any]
"""A (queue, type) pair, as stored."""


def inserted(conn: sqlite3.Connection, added: Counter[tuple[Any, Any, str]]) -> None:
    """``added[(queue, type, status)]`` new jobs were written with the bit set."""
    conn.executemany(sql.ADD_COUNTS, [(q, t, s, n) for (q, t, s), n in added.items()])


def claimed(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]], now: float) -> None:
    """``rows`` (:data:`~noormme_queue.store.rows.COLUMNS`, as the claim returned them) went
    from pending to processing at ``now``: the counts, and the starts and waits of the
    minute. A wait is from due to start: the claim takes only jobs due by ``now`` (a
    ``run_at`` no number can hold is never due), so it is a number and never negative."""
    _move(conn, Counter((r[_QUEUE], r[_TYPE]) for r in rows), "pending", "processing")
    waits: dict[Any, list[float]] = {}
    for row in rows:
        waits.setdefault(row[_QUEUE], []).append(now - row[_RUN_AT])
    minute = int(now / 60)  # CAST(started_at / 60 AS INTEGER): truncated, as in SQL
    conn.executemany(
        sql.ADD_STARTED, [(minute, q, len(w), sum(w), max(w)) for q, w in waits.items()]
    )


def completed(conn: sqlite3.Connection, groups: Iterable[Group], now: float) -> None:
    """A job of each of ``groups`` went from processing to completed at ``now``."""
    moved = Counter(groups)
    _move(conn, moved, "processing", "completed")
    per_queue: Counter[Any] = Counter()
    for (queue, _), n in moved.items():
        per_queue[queue] += n
    minute = int(now / 60)
    conn.executemany(sql.ADD_COMPLETED, [(minute, q, n) for q, n in per_queue.items()])


def _move(conn: sqlite3.Connection, moved: Counter[Group], before: str, after: str) -> None:
    changes = [(q, t, s, d) for (q, t), n in moved.items() for s, d in ((before, -n), (after, n))]
    conn.executemany(sql.ADD_COUNTS, changes)
