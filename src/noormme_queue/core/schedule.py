"""A recurring job as ``QueueManager.list_schedules()`` shows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .job import JSON, JobStatus


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring job: one job of ``job_type`` per tick of ``cron`` (in ``timezone``) or
    of ``every``. Times are timezone-aware UTC datetimes."""

    name: str
    job_type: str
    payload: JSON
    cron: str | None
    every: timedelta | None
    timezone: str
    next_run_at: datetime
    """The next tick (while paused: the one it would have been)."""
    last_run_at: datetime | None
    """The tick of the last job it made (or when it was last run by hand)."""
    paused: bool
    missed: str
    """The missed-tick policy: ``latest``, ``all`` or ``none``."""
    options: Mapping[str, JSON] = field(default_factory=dict)
    """The ``add_job`` options every job gets (priority, max_attempts, ...)."""
    last_job_id: str | None = None
    last_status: JobStatus | None = None
    """The status of the last job it made; ``None`` before the first, or once cleaned up."""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, JSON]:
        """A JSON-ready dict (snake_case, ISO-8601 times, ``every`` in seconds)."""
        return {
            "name": self.name,
            "job_type": self.job_type,
            "payload": self.payload,
            "cron": self.cron,
            "every": None if self.every is None else self.every.total_seconds(),
            "timezone": self.timezone,
            "next_run_at": self.next_run_at.isoformat(),
            "last_run_at": None if self.last_run_at is None else self.last_run_at.isoformat(),
            "paused": self.paused,
            "missed": self.missed,
            "options": dict(self.options),
            "last_job_id": self.last_job_id,
            "last_status": None if self.last_status is None else self.last_status.value,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }
