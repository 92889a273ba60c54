"""A job's timeline, kept in its own row (the ``events`` column), shared by both backends.

Each statement that changes a job appends that change's events to the row it changes, so a
timeline never disagrees with its job: a compare-and-set that lost records nothing, cleanup
deletes the events with the job, and reading them is the job's primary-key lookup. Keeping
them in the row, not in a table of their own, costs the claim and the settle no extra write
(docs/timeline.md has the figures). A completion, the bulk of all settles, appends nothing:
nothing can happen to a completed job, so its last event, ``completed``, is read from its
row (``finished_at``, ``worker_id``, ``attempts``).

An event is stored as a JSON array ``[at, kind, worker, by, attempt, detail]`` (``detail``
an object or null). The events are built here, in Python, from what the store was asked to
do; SQL only appends them. The one exception is the claim's, whose attempt number only the
row knows: the claim statements build ``[now, "claimed", worker_id, null, attempts + 1,
null]`` themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.events import EventKind, JobEvent
from ..core.job import AttemptOutcome, JobStatus, to_datetime
from .base import Completed, Failed, NewJob, Outcome, Released

Event = list[Any]
"""``[at, kind, worker, by, attempt, detail]``, as stored."""

MAX_ERROR_CHARS = 2000  # the full message and traceback stay in the job's history
RESCUER = "rescuer"


def _event(
    at: float,
    kind: EventKind,
    worker: str | None = None,
    by: str | None = None,
    attempt: int | None = None,
    **detail: Any,
) -> Event:
    kept = {k: v for k, v in detail.items() if v is not None}
    return [at, kind.value, worker, by, attempt, kept or None]


def dumps(events: list[Event]) -> str:
    return json.dumps(events, separators=(",", ":"))


def enqueued(job: NewJob) -> str:
    """A new job's ``events``: the one event of its enqueue, as JSON text."""
    later = job.run_at if job.run_at > job.created_at else None
    return dumps(
        [_event(job.created_at, EventKind.ENQUEUED, by=job.by, run_at=later, schedule=job.schedule)]
    )


def settled(outcome: Outcome, now: float) -> list[Event]:
    """The events of one outcome: completed (not stored: see :func:`read_events`); failed
    (or lease expired), then retry scheduled when it runs again; released."""
    if isinstance(outcome, Released):
        return [_event(now, EventKind.RELEASED, outcome.worker_id)]
    a = outcome.attempt
    if isinstance(outcome, Completed):
        return []  # read from the completed row (read_events)
    lost = a.outcome is AttemptOutcome.LEASE_EXPIRED
    if lost:
        events = [_event(now, EventKind.LEASE_EXPIRED, a.worker_id, RESCUER, a.attempt)]
    else:
        events = [
            _event(
                now,
                EventKind.FAILED,
                a.worker_id,
                attempt=a.attempt,
                error_type=a.error_type,
                error=None if a.error is None else a.error[:MAX_ERROR_CHARS],
                timed_out=True if a.outcome is AttemptOutcome.TIMED_OUT else None,
            )
        ]
    if isinstance(outcome, Failed) and outcome.retry_at is not None:
        by = RESCUER if lost else None
        retry = _event(
            now, EventKind.RETRY_SCHEDULED, None, by, a.attempt, retry_at=outcome.retry_at
        )
        events.append(retry)
    return events


def unreadable(error: str, now: float) -> Event:
    return _event(now, EventKind.FAILED, error=error[:MAX_ERROR_CHARS])


def cancelled(by: str, now: float) -> Event:
    return _event(now, EventKind.CANCELLED, by=by)


def retried(by: str, now: float) -> Event:
    return _event(now, EventKind.RETRIED, by=by)


def read_events(job_id: str, row: Sequence[Any], limit: int) -> list[JobEvent]:
    """The first ``limit`` events of a job from its row: ``events`` (JSON text), then
    ``status``, ``finished_at``, ``worker_id`` and ``attempts`` (a completed job's last
    event)."""
    stored, status, finished_at, worker, attempts = row
    items = json.loads(stored) if stored else []
    if status == JobStatus.COMPLETED.value and finished_at is not None:
        items.append(_event(float(finished_at), EventKind.COMPLETED, worker, attempt=attempts))
    found: list[JobEvent] = []
    for seq, item in enumerate(items, start=1):
        if len(found) >= limit:
            break
        at, kind, worker, by, attempt, detail = item
        when = to_datetime(float(at))
        assert when is not None
        found.append(
            JobEvent(
                job_id=job_id,
                seq=seq,
                at=when,
                kind=EventKind(kind),
                worker=worker,
                by=by,
                attempt=None if attempt is None else int(attempt),
                detail=dict(detail or {}),
            )
        )
    return found
