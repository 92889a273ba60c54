"""Request and response models of the REST API: they give OpenAPI its real schemas.

Requests accept snake_case names and the specification's camelCase ones. Where
a camelCase name carries a duration it is in milliseconds, like the
specification (``retryPolicy.baseDelay``, ``delayMs``); snake_case durations
are seconds, like the Python API. ``delay`` is seconds: the name is the same
in both spellings, so it keeps the Python unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from ..core.job import (
    JSON,
    Job,
    JobStatus,
    QueueInfo,
    QueueStats,
    QueueStatus,
    ThroughputPoint,
)
from ..core.options import option_names
from ..core.routing import RateLimit, TypeDefinition, TypeLimits
from .errors import ApiError
from .redact import redact, redact_text
from .spellings import accept_every_spelling

T = TypeVar("T")
INT64 = 2**63
MAX_DELAY_SECONDS = 100 * 365 * 86_400.0  # far enough; the manager also caps at year 9999


def _either(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class _In(BaseModel):
    # The published schema names every accepted spelling (retry_policy and retryPolicy).
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=accept_every_spelling
    )


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

    def to_mapping(self, spelled: str = "retry_policy") -> dict[str, float | int]:
        """The keys that were given, for ``RetryPolicy.from_dict`` (which knows both units)."""
        for snake, camel in (("base_delay", "baseDelay"), ("max_delay", "maxDelay")):
            if getattr(self, snake) is not None and getattr(self, camel) is not None:
                raise ApiError(
                    422,
                    "invalid_input",
                    f"give {snake} (seconds) or {camel} (milliseconds), not both",
                    f"options.{spelled}",
                )
        return dict(self.model_dump(exclude_none=True))


class JobOptionsIn(_In):
    """The options of ``add_job`` (``noormme_queue.core.options.JobOptions``), every one
    optional. Its fields are the option names, checked against ``option_names()`` by
    ``tests/api/test_options_face.py``; ``delayMs`` is the one extra (``delay`` in ms)."""

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
    queue: Annotated[
        str | None,
        Field(min_length=1, max_length=64, description="default: the type's queue, else default"),
    ] = None
    limit_key: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="the type's limits apply per key"),
    ] = _either("limit_key", "limitKey")

    _given: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_spellings(
        cls, data: Any, handler: ModelWrapValidatorHandler[JobOptionsIn]
    ) -> JobOptionsIn:
        options = handler(data)
        if isinstance(data, dict):
            options._given = frozenset(key for key in data if isinstance(key, str))
        return options

    def spelling(self, option: str) -> str:
        """The name this request gave ``option`` under (``maxAttempts``), else its own."""
        names = [option, "delayMs"] if option == "delay" else [option]
        for name in names:
            alias = type(self).model_fields[name].validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [name]
            for choice in choices:
                if isinstance(choice, str) and choice in self._given:
                    return choice
        return option

    def to_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``QueueManager.add_job``: one per ``option_names()``."""
        kwargs: dict[str, Any] = {name: getattr(self, name) for name in option_names()}
        if self.delayMs is not None:
            if self.delay is not None:
                raise ApiError(
                    422, "invalid_input", "give delay or delayMs, not both", "options.delayMs"
                )
            kwargs["delay"] = self.delayMs / 1000.0
        if self.retry_policy is not None:
            kwargs["retry_policy"] = self.retry_policy.to_mapping(self.spelling("retry_policy"))
        return kwargs


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
    error_type: str | None = Field(default=None, description="e.g. builtins.ValueError")


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
    queue: str
    limit_key: str | None
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


# -- queues ------------------------------------------------------------------------------------

QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""What ``core/routing.py: check_queue_name`` accepts, for the published schema."""


class RateLimitOut(BaseModel):
    count: int = Field(description="at most this many starts ...")
    window: float = Field(description="... in any window of this many seconds")
    text: str = Field(description="the same as register_handler's rate_limit, e.g. 30/minute")

    @classmethod
    def of(cls, rate: RateLimit) -> RateLimitOut:
        return cls(count=rate.count, window=rate.window, text=str(rate))


class TypeLimitsOut(BaseModel):
    """Across every worker, per ``limit_key`` when a job has one; ``null``: no limit."""

    concurrency: int | None = Field(description="at most this many processing at once")
    rate: RateLimitOut | None

    @classmethod
    def of(cls, limits: TypeLimits) -> TypeLimitsOut:
        rate = None if limits.rate is None else RateLimitOut.of(limits.rate)
        return cls(concurrency=limits.concurrency, rate=rate)


class TypeOut(BaseModel):
    """A job type as the last worker to register it stored it (in any process)."""

    type: str
    queue: str = Field(description="where its jobs go unless add_job says otherwise")
    limits: TypeLimitsOut
    defined_by: str = Field(description="the worker id that stored this definition")
    updated_at: datetime

    @classmethod
    def of(cls, definition: TypeDefinition) -> TypeOut:
        return cls(
            type=definition.type,
            queue=definition.queue,
            limits=TypeLimitsOut.of(definition.limits),
            defined_by=definition.defined_by,
            updated_at=datetime.fromtimestamp(definition.updated_at, UTC),
        )


class QueueOut(BaseModel):
    """One named queue: paused or not, its jobs by status, the types registered for it."""

    name: str
    paused: bool = Field(description="paused: no worker starts its jobs; they stay pending")
    total: int
    pending: int
    processing: int
    completed: int
    failed: int
    cancelled: int
    types: list[TypeOut] = Field(description="job types registered for this queue, by name")

    @classmethod
    def of(cls, info: QueueInfo, types: Sequence[TypeDefinition]) -> QueueOut:
        data = info.to_dict()
        data["types"] = [TypeOut.of(t) for t in sorted(types, key=lambda t: t.type)]
        return cls.model_validate(data)


class QueueList(BaseModel):
    queues: list[QueueOut] = Field(description="by name")


class QueueChangeOut(BaseModel):
    queue: QueueOut = Field(description="the queue after the change")
    changed: bool = Field(description="false: it was paused (or running) already")
