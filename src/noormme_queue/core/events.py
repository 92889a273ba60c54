"""A job's timeline: what happened to it, when, on which worker, and who asked.

The store writes each event in the transaction of the state change it records, so a
timeline never disagrees with its job (see docs/timeline.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .errors import InvalidJob
from .job import JSON


class EventKind(StrEnum):
    ENQUEUED = "enqueued"
    """Written; ``by`` says how (``python``, ``api``, ``dashboard``, ``cli``, ``task``,
    ``schedule``, ``django``, or what the caller passed)."""
    CLAIMED = "claimed"
    """A worker (``worker``) took it for attempt ``attempt``."""
    COMPLETED = "completed"
    FAILED = "failed"
    """An attempt failed: ``detail`` holds ``error_type`` and ``error`` (and ``timed_out``)."""
    RETRY_SCHEDULED = "retry_scheduled"
    """It runs again at ``detail["retry_at"]`` (Unix seconds)."""
    LEASE_EXPIRED = "lease_expired"
    """``worker`` lost it (killed, hung or cut off); ``by`` is ``rescuer``."""
    RELEASED = "released"
    """Its worker stopped and gave it back without spending the attempt."""
    CANCELLED = "cancelled"
    RETRIED = "retried"
    """Failed or cancelled, then retried by hand (``by``)."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One step of a job's timeline (``QueueManager.get_job_events``), oldest first."""

    job_id: str
    seq: int
    """Orders one job's events (the store's insertion order)."""
    at: datetime
    kind: EventKind
    worker: str | None = None
    """The worker that claimed, ran, released or lost it."""
    by: str | None = None
    """Who made it happen, where a caller did: ``api``, ``dashboard``, ``cli``, ``python``,
    ``rescuer``, ``schedule``, ..."""
    attempt: int | None = None
    detail: dict[str, JSON] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSON]:
        return {
            "job_id": self.job_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind.value,
            "worker": self.worker,
            "by": self.by,
            "attempt": self.attempt,
            "detail": dict(self.detail),
        }


EVENTS_LIMIT = 1000
"""The events ``get_job_events`` returns at most, unless told."""
MAX_ACTOR_CHARS = 64
_ACTOR = re.compile(r"[A-Za-z0-9_.:@/+-]+")

PYTHON = "python"
"""Who acts when the caller names nobody."""


def check_actor(by: str | None) -> str:
    """``by`` as stored: ``python`` when ``None``; else a short name of letters, digits and
    ``_.:@/+-`` (``cli``, ``admin:alice``), or :class:`InvalidJob` (field ``by``)."""
    if by is None:
        return PYTHON
    if not isinstance(by, str) or not 0 < len(by) <= MAX_ACTOR_CHARS or not _ACTOR.fullmatch(by):
        raise InvalidJob(
            f"by must be 1 to {MAX_ACTOR_CHARS} letters, digits or _.:@/+- "
            f"(who acts: 'api', 'cli', 'admin:alice'), got {by!r}",
            field="by",
        )
    return by
