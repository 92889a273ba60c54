"""Request and response models of the REST API: they give OpenAPI its real schemas.

Requests accept snake_case names and the specification's camelCase ones. Where
a camelCase name carries a duration it is in milliseconds, like the
specification (``retryPolicy.baseDelay``, ``delayMs``); snake_case durations
are seconds, like the Python API. ``delay`` is seconds: the name is the same
in both spellings, so it keeps the Python unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from ..core.job import JSON, Job, JobStatus, QueueStats, QueueStatus, ThroughputPoint
from .errors import ApiError
from .redact import redact, redact_text

T = TypeVar("T")
INT64 = 2**63
MAX_DELAY_SECONDS = 100 * 365 * 86_400.0  # far enough; the manager also caps at year 9999


def _either(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetryPolicyIn(_In):
    """Snake_case in seconds, or the specification's camelCase with delays in milliseconds."""

    max_retries: Annotated[int | None, Field(ge=0, le=1000)] = _either("max_retries", "maxRetries")
    base_delay: Annotated[float | None, Field(ge=0, description="seconds")] = None
    baseDelay: Annotated[float | None, Field(ge=0, description="milliseconds")] = None
    max_delay: Annotated[float | None, Field(ge=0, description="seconds")] = None
    maxDelay: Annotated[float | None, Field(ge=0, description="milliseconds")] = None
    backoff_multiplier: Annotated[float | None, Field(ge=1)] = _either(
        "backoff_multiplier", "backoffMultiplier"
    )
    jitter: Annotated[float | None, Field(ge=0, le=1)] = None

    def to_mapping(self) -> dict[str, float | int]:
        """The keys that were given, for ``RetryPolicy.from_dict`` (which knows both units)."""
        for snake, camel in (("base_delay", "baseDelay"), ("max_delay", "maxDelay")):
            if getattr(self, snake) is not None and getattr(self, camel) is not None:
                raise ApiError(
                    422,
                    "invalid_input",
                    f"give {snake} (seconds) or {camel} (milliseconds), not both",
                    "options.retry_policy",
                )
        return dict(self.model_dump(exclude_none=True))


class JobOptionsIn(_In):
    """The options of ``add_job``; every one is optional."""

    priority: Annotated[int, Field(ge=-INT64, lt=INT64, description="higher runs first")] = 0
    delay: Annotated[
        float | None, Field(ge=0, le=MAX_DELAY_SECONDS, description="seconds from now")
    ] = None
    delayMs: Annotated[
        float | None,
        Field(ge=0, le=MAX_DELAY_SECONDS * 1000, description="milliseconds from now"),
    ] = None
    run_at: Annotated[
        AwareDatetime | None,
        Field(
            validation_alias=AliasChoices("run_at", "scheduledAt", "scheduled_at", "runAt"),
            description="ISO 8601 with a timezone; also scheduledAt",
        ),
    ] = None
    max_attempts: Annotated[int | None, Field(ge=1, le=1001)] = _either(
        "max_attempts", "maxAttempts"
    )
    retry_policy: RetryPolicyIn | None = _either("retry_policy", "retryPolicy")
    unique_key: Annotated[str | None, Field(min_length=1, max_length=1000)] = _either(
        "unique_key", "uniqueKey"
    )
    timeout: Annotated[float | None, Field(gt=0, le=86_400 * 7, description="seconds")] = None

    def to_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``QueueManager.add_job``."""
        delay = self.delay
        if self.delayMs is not None:
            if delay is not None:
                raise ApiError(422, "invalid_input", "give delay or delayMs, not both", "options")
            delay = self.delayMs / 1000.0
        return {
            "priority": self.priority,
            "delay": delay,
            "run_at": self.run_at,
            "max_attempts": self.max_attempts,
            "retry_policy": None if self.retry_policy is None else self.retry_policy.to_mapping(),
            "unique_key": self.unique_key,
            "timeout": self.timeout,
        }


class EnqueueRequest(_In):
    """A job to save. ``payload`` is checked against the job type's model, if it has one."""

    type: Annotated[str, Field(min_length=1, max_length=200, description="the job type")]
    payload: JSON = Field(default=None, description="any JSON; see the per-type schemas")
    options: JobOptionsIn = Field(default_factory=JobOptionsIn)


class CleanupRequest(_In):
    older_than_days: Annotated[
        float | None,
        Field(ge=0, le=100_000, description="default QUEUE_CLEANUP_DAYS"),
    ] = _either("older_than_days", "olderThanDays")


# -- responses ---------------------------------------------------------------------------------


class Ok(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class ErrorOut(BaseModel):
    success: Literal[False] = False
    error: str = Field(description="a short code: not_found, conflict, invalid_input, ...")
    message: str = Field(description="what went wrong and what to do")
    field: str | None = Field(default=None, description="the offending input, e.g. payload.to")


class AttemptOut(BaseModel):
    attempt: int
    outcome: str
    started_at: datetime | None
    finished_at: datetime
    worker_id: str | None
    error: str | None
    traceback: str | None


class RetryPolicyOut(BaseModel):
    max_retries: int
    base_delay: float
    max_delay: float
    backoff_multiplier: float
    jitter: float


class JobOut(BaseModel):
    """A job; secrets in its payload, result and progress are shown as ``***``."""

    id: str
    type: str
    payload: JSON
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: JSON
    error: str | None
    history: list[AttemptOut]
    retry_policy: RetryPolicyOut | None
    unique_key: str | None
    timeout: float | None
    worker_id: str | None
    progress: JSON
    schedule: str | None = Field(default=None, description="the schedule that made it, if any")

    @classmethod
    def of(cls, job: Job) -> JobOut:
        data = job.to_dict()
        for key in ("payload", "result", "progress"):
            data[key] = redact(data[key])
        # Error texts quote what failed, URLs included: mask the secrets in those too.
        data["error"] = redact_text(data["error"])
        for attempt in data["history"]:
            attempt["error"] = redact_text(attempt["error"])
            attempt["traceback"] = redact_text(attempt["traceback"])
        return cls.model_validate(data)


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page")


class QueueStatsOut(BaseModel):
    total: int
    pending: int
    processing: int
    completed: int
    failed: int
    cancelled: int

    @classmethod
    def of(cls, stats: QueueStats) -> QueueStatsOut:
        return cls.model_validate(stats.to_dict())


class MemoryQueueStatsOut(BaseModel):
    name: str
    kind: str
    concurrency: int
    paused: bool
    queued: int
    running: int
    completed: int
    failed: int
    timed_out: int
    cancelled: int
    dropped: int
    mean_duration: float | None
    p95_duration: float | None
    throughput: float = Field(description="jobs finished per second over the last 10 s")


class QueueStatusOut(BaseModel):
    started: bool
    worker_id: str | None
    concurrency: int
    in_flight: int
    registered_types: list[str]
    unhandled_types: list[str]
    memory_queues: list[str]
    database: str

    @classmethod
    def of(cls, status: QueueStatus) -> QueueStatusOut:
        data = status.to_dict()
        data.pop("extra", None)
        data["database"] = redact(data["database"])
        return cls.model_validate(data)


class ThroughputPointOut(BaseModel):
    start: datetime
    completed: int
    failed: int

    @classmethod
    def of(cls, point: ThroughputPoint) -> ThroughputPointOut:
        return cls(start=point.start, completed=point.completed, failed=point.failed)


class StatsOut(BaseModel):
    persistent: QueueStatsOut
    memory: dict[str, MemoryQueueStatsOut]
    status: QueueStatusOut
    throughput: list[ThroughputPointOut] = Field(
        description="persistent jobs finished per minute over the last 30 minutes, oldest first"
    )


class CleanupOut(BaseModel):
    removed: int


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    started: bool = Field(description="whether this process runs a worker")
