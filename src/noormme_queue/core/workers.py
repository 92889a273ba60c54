"""Live workers and what the queues did minute by minute: plain records, no I/O.

A worker registers in the store and renews its row with a heartbeat
(``engine/heartbeat.py``); :class:`WorkerInfo` is that row as read back. The kept
per-minute counts of each queue (``noormme_minutes``) come back as :class:`QueueActivity`,
the series behind the dashboard's charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One live worker, as its last heartbeat stored it. Times are aware UTC datetimes."""

    id: str
    host: str
    pid: int
    queues: tuple[str, ...] | None
    """The queues it consumes (``QUEUE_QUEUES`` entries: ``name`` or ``name=N``); ``None``:
    every queue."""
    concurrency: int
    types: tuple[str, ...]
    """The job types it has a handler for."""
    jobs: tuple[str, ...]
    """Ids of the jobs it was running at its last heartbeat."""
    started_at: datetime
    heartbeat_at: datetime
    """Its last heartbeat, by its own clock."""
    expires_at: datetime
    """Taken for dead after this (its clock), unless it beats again."""
    clock_skew: float
    """Seconds its clock was ahead of the database's at its last heartbeat (negative:
    behind)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "queues": None if self.queues is None else list(self.queues),
            "concurrency": self.concurrency,
            "types": list(self.types),
            "jobs": list(self.jobs),
            "started_at": _iso(self.started_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "expires_at": _iso(self.expires_at),
            "clock_skew": self.clock_skew,
        }


@dataclass(frozen=True, slots=True)
class ActivityPoint:
    """One queue's minute starting at ``start``."""

    start: datetime
    completed: int = 0
    failed: int = 0
    """Jobs that failed for good (a retry scheduled is not a failure yet)."""
    started: int = 0
    """Jobs claimed: each run counts, retries too."""
    wait_avg: float | None = None
    """Mean seconds from when a started job was due (its enqueue, for a job due at once)
    to its start; ``None`` when nothing started."""
    wait_max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "completed": self.completed,
            "failed": self.failed,
            "started": self.started,
            "wait_avg": self.wait_avg,
            "wait_max": self.wait_max,
        }


@dataclass(frozen=True, slots=True)
class QueueActivity:
    """A queue's minutes over a window, oldest first, one point per minute."""

    queue: str
    points: tuple[ActivityPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "points": [p.to_dict() for p in self.points]}
