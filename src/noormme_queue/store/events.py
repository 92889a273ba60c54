"""The rows of ``noormme_events`` (a job's timeline), shared by both backends.

Each store writes the events of a state change in the transaction that makes it, and only
for the jobs the change applied to (a compare-and-set that lost writes nothing), so a
timeline never disagrees with its job. The rows are built here, in Python, from what the
store was asked to do; SQL only inserts them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.events import EventKind, JobEvent
from ..core.job import AttemptOutcome, JobStatus, to_datetime
from .base import Completed, Failed, NewJob, Outcome, Released

EventRow = tuple[str, float, str, str | None, str | None, int | None, str | None]
"""``(job_id, at, kind, worker, actor, attempt, detail)``: the columns written."""

EVENT_COLUMNS = ("job_id", "at", "kind", "worker", "actor", "attempt", "detail")
MAX_ERROR_CHARS = 2000  # the full message and traceback stay in the job's history
RESCUER = "rescuer"


def _detail(values: dict[str, Any]) -> str | None:
    kept = {k: v for k, v in values.items() if v is not None}
    return json.dumps(kept, separators=(",", ":")) if kept else None


def enqueued(job: NewJob) -> EventRow:
    later = job.run_at if job.run_at > job.created_at else None
    detail = _detail({"run_at": later, "schedule": job.schedule})
    return (job.id, job.created_at, EventKind.ENQUEUED.value, None, job.by, None, detail)


def claimed(job_id: str, attempt: int, worker: str, now: float) -> EventRow:
    return (job_id, now, EventKind.CLAIMED.value, worker, None, attempt, None)


def settled(outcome: Outcome, now: float) -> list[EventRow]:
    """The events of one outcome: completed; failed (or lease expired), then retry
    scheduled when it runs again; released."""
    if isinstance(outcome, Released):
        return [
            (outcome.job_id, now, EventKind.RELEASED.value, outcome.worker_id, None, None, None)
        ]
    a = outcome.attempt
    if isinstance(outcome, Completed):
        return [
            (outcome.job_id, now, EventKind.COMPLETED.value, a.worker_id, None, a.attempt, None)
        ]
    rows: list[EventRow] = []
    if a.outcome is AttemptOutcome.LEASE_EXPIRED:
        rows.append(
            (
                outcome.job_id,
                now,
                EventKind.LEASE_EXPIRED.value,
                a.worker_id,
                RESCUER,
                a.attempt,
                None,
            )
        )
    else:
        detail = _detail(
            {
                "error_type": a.error_type,
                "error": None if a.error is None else a.error[:MAX_ERROR_CHARS],
                "timed_out": True if a.outcome is AttemptOutcome.TIMED_OUT else None,
            }
        )
        rows.append(
            (outcome.job_id, now, EventKind.FAILED.value, a.worker_id, None, a.attempt, detail)
        )
    if isinstance(outcome, Failed) and outcome.retry_at is not None:
        by = RESCUER if a.outcome is AttemptOutcome.LEASE_EXPIRED else None
        detail = _detail({"retry_at": outcome.retry_at})
        rows.append(
            (outcome.job_id, now, EventKind.RETRY_SCHEDULED.value, None, by, a.attempt, detail)
        )
    return rows


def unreadable(job_id: str, error: str, now: float) -> EventRow:
    return (job_id, now, EventKind.FAILED.value, None, None, None, _detail({"error": error}))


def cancelled(job_id: str, before: JobStatus | str, by: str, now: float) -> EventRow:
    return (job_id, now, EventKind.CANCELLED.value, None, by, None, _detail({"from": str(before)}))


def retried(job_id: str, by: str, now: float) -> EventRow:
    return (job_id, now, EventKind.RETRIED.value, None, by, None, None)


def columns(rows: Sequence[EventRow]) -> dict[str, list[Any]]:
    """The rows as one array per column (PostgreSQL's ``unnest``), keyed ``e_<column>``."""
    return {f"e_{name}": [r[i] for r in rows] for i, name in enumerate(EVENT_COLUMNS)}


def read_events(rows: Iterable[Sequence[Any]]) -> list[JobEvent]:
    """``(seq, job_id, at, kind, worker, actor, attempt, detail)`` rows -> events."""
    events = []
    for seq, job_id, at, kind, worker, actor, attempt, detail in rows:
        when = to_datetime(float(at))
        assert when is not None
        events.append(
            JobEvent(
                job_id=job_id,
                seq=int(seq),
                at=when,
                kind=EventKind(kind),
                worker=worker,
                by=actor,
                attempt=None if attempt is None else int(attempt),
                detail={} if detail is None else json.loads(detail),
            )
        )
    return events
