"""Plain job data: statuses, the Job record, attempt history, stats and ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .errors import InvalidStatus
from .retry import RetryPolicy

JSON = Any
"""A value that survives ``json.dumps``/``json.loads`` unchanged."""


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, value: str | JobStatus) -> JobStatus:
        """The status named ``value``, or :class:`InvalidStatus` listing the valid names."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidStatus(f"unknown job status {value!r}; expected one of {names}") from None


class AttemptOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LEASE_EXPIRED = "lease_expired"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a job, kept in its history (the dead-letter record)."""

    attempt: int
    outcome: AttemptOutcome
    started_at: datetime | None
    finished_at: datetime
    worker_id: str | None = None
    error: str | None = None
    traceback: str | None = None
    error_type: str | None = None
    """The exception's class as ``module.qualname`` (``builtins.ValueError``)."""

    def to_dict(self) -> dict[str, JSON]:
        return {
            "attempt": self.attempt,
            "outcome": self.outcome.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "worker_id": self.worker_id,
            "error": self.error,
            "traceback": self.traceback,
            "error_type": self.error_type,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """A persistent job as stored. Times are timezone-aware UTC datetimes."""

    id: str
    type: str
    payload: JSON
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: JSON = None
    error: str | None = None
    history: tuple[Attempt, ...] = ()
    retry_policy: RetryPolicy | None = None
    unique_key: str | None = None
    timeout: float | None = None
    worker_id: str | None = None
    progress: JSON = None
    """What a handler saved with ``save_progress`` during its runs."""
    queue: str = "default"
    limit_key: str | None = None
    schedule: str | None = None
    """The name of the schedule that made this job (its ``run_at`` is the tick), if any."""
    traceparent: str | None = None
    """The W3C ``traceparent`` of the span that enqueued it, when OpenTelemetry was on
    (docs/observability.md); the attempts' spans link to it. Not in :meth:`to_dict`."""

    @property
    def attempt(self) -> int:
        """The number of the current (or last) run, counting from 1."""
        return self.attempts

    def to_dict(self) -> dict[str, JSON]:
        """A JSON-ready dict (snake_case, ISO-8601 times)."""
        return {
            "id": self.id,
            "type": self.type,
            "payload": self.payload,
            "status": self.status.value,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_at": _iso(self.run_at),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "result": self.result,
            "error": self.error,
            "history": [a.to_dict() for a in self.history],
            "retry_policy": None if self.retry_policy is None else asdict(self.retry_policy),
            "unique_key": self.unique_key,
            "timeout": self.timeout,
            "worker_id": self.worker_id,
            "progress": self.progress,
            "queue": self.queue,
            "limit_key": self.limit_key,
            "schedule": self.schedule,
        }


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts of persistent jobs by status."""

    total: int = 0
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """One named queue: paused or not, and its jobs by status."""

    name: str
    paused: bool = False
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    types: tuple[str, ...] = ()
    """Job types registered for this queue (by any worker)."""

    @property
    def total(self) -> int:
        return self.pending + self.processing + self.completed + self.failed + self.cancelled

    def to_dict(self) -> dict[str, JSON]:
        return {**asdict(self), "types": list(self.types), "total": self.total}


@dataclass(frozen=True, slots=True)
class ThroughputPoint:
    """Persistent jobs that finished in one time bucket starting at ``start``."""

    start: datetime
    completed: int
    failed: int

    def to_dict(self) -> dict[str, JSON]:
        return {"start": _iso(self.start), "completed": self.completed, "failed": self.failed}


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """What ``QueueManager.get_status()`` reports about this process."""

    started: bool
    worker_id: str | None
    concurrency: int
    in_flight: int
    registered_types: tuple[str, ...]
    unhandled_types: tuple[str, ...]
    """Job types with pending jobs but no handler here: they wait, they don't fail."""
    memory_queues: tuple[str, ...] = ()
    database: str = ""

    def to_dict(self) -> dict[str, JSON]:
        return asdict(self)


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
