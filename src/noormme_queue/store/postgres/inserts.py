"""Writing new jobs inside a transaction: ``enqueue``'s and a schedule's fire alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core.errors import StoreError
from ..base import NewJob
from ..rows import initial_status, new_job_row
from . import sql
from .pool import Conn, records

UNIQUE_RACE_RETRIES = 5


def insert_jobs(
    conn: Conn, jobs: Sequence[NewJob], *, wake: Mapping[str, str], where: str
) -> list[str]:
    """Write ``jobs`` in one statement (more only when unique keys race), each ``pending``
    or ``scheduled`` by its ``run_at`` (the kept counts follow by trigger), notifying
    listeners with ``wake``; a live job with the same unique key wins: its id is returned
    instead. ``where`` names the server in an error."""
    ids: list[str | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    for _ in range(UNIQUE_RACE_RETRIES):
        batch = [jobs[i] for i in todo]
        params: dict[str, Any] = {
            "jobs": records([new_job_row(j, initial_status(j), j.queue) for j in batch]),
            **wake,
        }
        inserted = {r[0] for r in conn.execute(sql.ENQUEUE, params) if r[0] is not None}
        skipped = [i for i in todo if jobs[i].id not in inserted]
        for i in todo:
            if jobs[i].id in inserted:
                ids[i] = jobs[i].id
        if not skipped:
            break
        # A live job holds the key (maybe one of this batch): hand back its id.
        keys = list({jobs[i].unique_key for i in skipped})
        live = dict(conn.execute(sql.LIVE_BY_UNIQUE_KEY, {"keys": keys}).fetchall())
        todo = []
        for i in skipped:
            holder = live.get(jobs[i].unique_key)
            if holder is None:
                todo.append(i)  # it finished in between: try to insert again
            else:
                ids[i] = holder
        if not todo:
            break
    else:
        raise StoreError(
            f"PostgreSQL at {where}: enqueue kept racing jobs that finished with the same "
            "unique_key; try again"
        )
    return [i for i in ids if i is not None]
