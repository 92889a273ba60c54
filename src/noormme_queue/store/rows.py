"""Rows <-> Job objects, shared by every backend so that each returns identical jobs.

A row is the tuple every store selects: the columns of :data:`COLUMNS`, in that order
(times as epoch seconds, JSON as text); the attempt history is a JSON list of attempts
with epoch-second times, each written by :func:`attempt_json` and read by
:func:`attempt_from_json` (the SQL of either dialect only appends the text it is given).

A row can hold what no ``Job`` can: a time outside what a ``datetime`` holds (written by
an older version, or by hand), a payload that is not JSON. Such a row must never stop a
worker's claim nor a listing, so :func:`read_row` never raises: it answers an
:class:`Unreadable` with a stand-in job, ``failed`` with ``cannot be read: ...``; the
stores mark the row itself failed when they claim or recover it, and the rest goes on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from ..core.job import Attempt, AttemptOutcome, Job, JobStatus, QueueInfo, QueueStats, to_datetime
from ..core.retry import RetryPolicy
from ..core.routing import RateLimit, TypeLimits
from .base import Failed, FinishedCount, NewJob, Outcome, Released, StoredSchedule, TypeDefinition
from .events import enqueued

COLUMNS = (
    "id",
    "type",
    "payload",
    "status",
    "priority",
    "attempts",
    "max_attempts",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
    "result",
    "error",
    "history",
    "retry_policy",
    "unique_key",
    "timeout",
    "worker_id",
    "progress",
    "queue",
    "limit_key",
    "schedule",
    "traceparent",
)
"""The columns every store selects for a job, in the order :func:`read_row` reads them."""

SCHEDULED = "scheduled"
"""The stored status of a pending job that is not due yet (see store/base.py)."""

UNREADABLE = "cannot be read"
"""How the error of a job whose row cannot be decoded starts."""

_EPOCH = datetime.fromtimestamp(0, UTC)


def claim_order(job: Job) -> tuple[int, Any, str]:
    return (-job.priority, job.run_at, job.id)


def makes_due(outcome: Outcome, now: float) -> bool:
    """Whether settling ``outcome`` makes its job due at once (other workers should look)."""
    if isinstance(outcome, Released):
        return True
    return isinstance(outcome, Failed) and outcome.retry_at is not None and outcome.retry_at <= now


def attempt_record(attempt: Attempt) -> dict[str, Any]:
    """The one shape of an attempt in a job's history."""
    return {
        "attempt": attempt.attempt,
        "outcome": attempt.outcome.value,
        "started_at": None if attempt.started_at is None else attempt.started_at.timestamp(),
        "finished_at": attempt.finished_at.timestamp(),
        "worker_id": attempt.worker_id,
        "error": attempt.error,
        "traceback": attempt.traceback,
        "error_type": attempt.error_type,
    }


def attempt_json(attempt: Attempt) -> str:
    """:func:`attempt_record` as ``json.dumps`` writes it."""
    if attempt.error is None and attempt.traceback is None and attempt.error_type is None:
        # The common record (a completed attempt) without the encoder's walk: the same text
        # (finite floats are written by repr there too).
        started = "null" if attempt.started_at is None else repr(attempt.started_at.timestamp())
        return (
            f'{{"attempt": {int(attempt.attempt)}, "outcome": "{attempt.outcome.value}", '
            f'"started_at": {started}, "finished_at": {attempt.finished_at.timestamp()!r}, '
            f'"worker_id": {_json_text(attempt.worker_id)}, "error": null, "traceback": null, '
            '"error_type": null}'
        )
    return json.dumps(attempt_record(attempt))


@functools.lru_cache(maxsize=64)
def _json_text(text: str | None) -> str:
    """A worker id as JSON (a worker writes its own over and over)."""
    return json.dumps(text)


def attempt_from_json(data: dict[str, Any]) -> Attempt:
    finished = to_datetime(data.get("finished_at"))
    if finished is None:
        raise ValueError("an attempt has no finished_at")
    return Attempt(
        attempt=int(data["attempt"]),
        outcome=AttemptOutcome(data["outcome"]),
        started_at=to_datetime(data.get("started_at")),
        finished_at=finished,
        worker_id=data.get("worker_id"),
        error=data.get("error"),
        traceback=data.get("traceback"),
        error_type=data.get("error_type"),
    )


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A row that no ``Job`` can hold."""

    job_id: str
    error: str
    """``cannot be read: <column> = <value>: <why>``, what the row's ``error`` becomes."""
    job: Job
    """A stand-in to show: ``failed`` with :attr:`error`; what could be read is kept."""


def read_row(row: Sequence[Any]) -> Job | Unreadable:
    """The job in ``row`` (:data:`COLUMNS`), or an :class:`Unreadable` naming the column."""
    try:
        return _decode(row, _strict)
    except Exception:  # rare: find every column that cannot be read, and keep the rest
        problems: list[str] = []
        job = _decode(row, _tolerant(problems))
        error = f"{UNREADABLE}: {'; '.join(problems) or 'the row does not fit a job'}"
        return Unreadable(job.id, error, replace(job, status=JobStatus.FAILED, error=error))


def row_to_job(row: Sequence[Any]) -> Job:
    """The job in ``row``, or its failed stand-in if it cannot be read (a listing goes on)."""
    read = read_row(row)
    return read.job if isinstance(read, Unreadable) else read


def read_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[Job], list[Unreadable]]:
    """The jobs that could be read, and the rows that could not."""
    jobs: list[Job] = []
    unreadable: list[Unreadable] = []
    for row in rows:
        read = read_row(row)
        if isinstance(read, Unreadable):
            unreadable.append(read)
        else:
            jobs.append(read)
    return jobs, unreadable


def due_time(value: Any) -> float | None:
    """A ``next_run_at`` a worker can sleep until (``None`` for a value no clock reaches)."""
    try:
        return None if value is None else _time(value).timestamp()
    except Exception:  # NaN, or a year no datetime holds: the claim marks such a job
        return None


Read = Callable[[str, Any, Callable[[Any], Any], Any], Any]
"""``read(column, value, decode, fallback)``: how :func:`_decode` decodes one column."""


def _strict(column: str, value: Any, decode: Callable[[Any], Any], fallback: Any) -> Any:
    return decode(value)


def _tolerant(problems: list[str]) -> Read:
    def read(column: str, value: Any, decode: Callable[[Any], Any], fallback: Any) -> Any:
        try:
            return decode(value)
        except Exception as exc:  # anything a hand-written value can raise
            problems.append(f"{column} = {_shown(value)}: {exc or type(exc).__name__}")
            return fallback

    return read


def _decode(row: Sequence[Any], read: Read) -> Job:
    (
        id_,
        type_,
        payload,
        status,
        priority,
        attempts,
        max_attempts,
        run_at,
        created_at,
        started_at,
        finished_at,
        result,
        error,
        history,
        retry_policy,
        unique_key,
        timeout,
        worker_id,
        progress,
        queue,
        limit_key,
        schedule,
        traceparent,
    ) = row
    return Job(
        id=str(id_),
        type=type_,
        payload=read("payload", payload, json.loads, None),
        status=read("status", status, _status, JobStatus.FAILED),
        priority=priority,
        attempts=attempts,
        max_attempts=max_attempts,
        run_at=read("run_at", run_at, _time, _EPOCH),
        created_at=read("created_at", created_at, _time, _EPOCH),
        started_at=None if started_at is None else read("started_at", started_at, _time, None),
        finished_at=None if finished_at is None else read("finished_at", finished_at, _time, None),
        result=None if result is None else read("result", result, json.loads, None),
        error=error,
        history=() if history == "[]" else read("history", history, _history, ()),
        retry_policy=None
        if retry_policy is None
        else read("retry_policy", retry_policy, _retry_policy, None),
        unique_key=unique_key,
        timeout=timeout,
        worker_id=worker_id,
        progress=None if progress is None else read("progress", progress, json.loads, None),
        queue=queue,
        limit_key=limit_key,
        schedule=schedule,
        traceparent=traceparent,
    )


_STATUSES = {s.value: s for s in JobStatus} | {SCHEDULED: JobStatus.PENDING}


def _status(value: Any) -> JobStatus:
    # A job waiting for its time is "scheduled" in the table (out of the claim's index),
    # and pending to everyone else.
    known = _STATUSES.get(value)
    return JobStatus(value) if known is None else known  # JobStatus names a bad value


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _history(value: Any) -> tuple[Attempt, ...]:
    records = json.loads(value)
    if not isinstance(records, list):
        raise TypeError(f"the history is a JSON list, not {type(records).__name__}")
    return tuple(attempt_from_json(a) for a in records)


def _retry_policy(value: Any) -> RetryPolicy:
    return RetryPolicy(**json.loads(value))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# -- stored statuses, counts and definitions, the same for every backend ------------------------


def new_job_row(job: NewJob, status: str, queue: str | None) -> tuple[Any, ...]:
    """A new job's values in the column order both dialects' ``ENQUEUE`` take (the budget
    is ``max_attempts``; ``events`` its enqueue event)."""
    return (
        *(job.id, job.type, job.payload, status, job.priority, job.max_attempts),
        *(job.max_attempts, job.run_at, job.created_at, job.retry_policy, job.unique_key),
        *(job.timeout, queue, job.limit_key, job.schedule, job.traceparent, enqueued(job)),
    )


def initial_status(job: NewJob) -> str:
    """``pending`` for a job due when written, else ``scheduled``: out of the claim's index."""
    return SCHEDULED if job.run_at > job.created_at else "pending"


def listed_statuses(status: JobStatus | None) -> list[str]:
    """The stored statuses a listing of ``status`` reads."""
    if status is None:
        return []
    return ["pending", SCHEDULED] if status is JobStatus.PENDING else [status.value]


def stats_of(rows: Sequence[Sequence[Any]]) -> QueueStats:
    """``(status, count)`` rows of the kept counts; a scheduled job counts as pending."""
    counts = dict.fromkeys((s.value for s in JobStatus), 0)
    for status, n in rows:
        key = JobStatus.PENDING.value if status == SCHEDULED else status
        if key in counts:
            counts[key] += int(n or 0)
    return QueueStats(total=sum(counts.values()), **counts)


def queue_infos(
    counts: Sequence[Sequence[Any]],
    queues: Sequence[Sequence[Any]],
    definitions: Sequence[TypeDefinition],
) -> list[QueueInfo]:
    """``(queue, status, count)`` rows, ``(name, paused)`` rows and the type definitions."""
    names = {str(q) for q, _, n in counts if n}
    names |= {str(name) for name, _ in queues} | {d.queue for d in definitions}
    paused = {str(name) for name, flag in queues if flag}
    infos = []
    for name in sorted(names):
        stats = stats_of([(status, n) for q, status, n in counts if q == name])
        types = tuple(sorted(d.type for d in definitions if d.queue == name))
        infos.append(
            QueueInfo(
                name=name,
                paused=name in paused,
                pending=stats.pending,
                processing=stats.processing,
                completed=stats.completed,
                failed=stats.failed,
                cancelled=stats.cancelled,
                types=types,
            )
        )
    return infos


def minute_buckets(
    rows: Sequence[Sequence[Any]], *, since: float, width: float
) -> list[FinishedCount]:
    """Per-minute ``(minute, completed, failed)`` rows summed into ``width``-second buckets."""
    buckets: dict[int, list[int]] = {}
    for minute, completed, failed in rows:
        bucket = int((minute * 60 - since) // width)
        into = buckets.setdefault(bucket, [0, 0])
        into[0] += int(completed)
        into[1] += int(failed)
    return [FinishedCount(b, c, f) for b, (c, f) in sorted(buckets.items())]


def type_definition(row: Sequence[Any]) -> TypeDefinition:
    """A ``noormme_types`` row: type, queue, concurrency, rate_count, rate_window,
    defined_by, updated_at."""
    type_, queue, concurrency, rate_count, rate_window, defined_by, updated_at = row
    rate = None if rate_count is None else RateLimit(int(rate_count), float(rate_window))
    limits = TypeLimits(None if concurrency is None else int(concurrency), rate)
    return TypeDefinition(type_, queue, limits, defined_by, float(updated_at))


def type_row(definition: TypeDefinition) -> tuple[Any, ...]:
    rate = definition.limits.rate
    return (
        definition.type,
        definition.queue,
        definition.limits.concurrency,
        None if rate is None else rate.count,
        None if rate is None else rate.window,
        definition.defined_by,
        definition.updated_at,
    )


# -- schedules ---------------------------------------------------------------------------------

SCHEDULE_COLUMNS = (
    "name",
    "job",
    "cron",
    "every",
    "timezone",
    "missed",
    "paused",
    "next_run_at",
    "last_run_at",
    "last_job_id",
    "revision",
    "created_at",
    "updated_at",
)
"""The columns every store selects for a schedule, then the status of its last job."""

# Set at each tick (a schedule's jobs carry no enqueuing trace: no traceparent either).
_STAMPED = frozenset({"id", "run_at", "created_at", "schedule", "traceparent", "by"})


def job_template(job: NewJob) -> str:
    """The job a schedule makes at every tick, as the JSON text its ``job`` column holds:
    every field of :class:`NewJob` but those stamped per tick."""
    return json.dumps({k: v for k, v in asdict(job).items() if k not in _STAMPED})


def template_job(text: str) -> NewJob:
    """A schedule's job back from its ``job`` column (stamped fields blank); fields a newer
    version stored and this one does not know are left out."""
    data = json.loads(text)
    known = {f.name for f in fields(NewJob)} - _STAMPED
    return NewJob(id="", run_at=0.0, created_at=0.0, **{k: data[k] for k in known if k in data})


def read_schedule(row: Sequence[Any]) -> StoredSchedule:
    """The schedule in ``row`` (:data:`SCHEDULE_COLUMNS`, then its last job's status)."""
    (
        name,
        job,
        cron,
        every,
        timezone,
        missed,
        paused,
        next_run_at,
        last_run_at,
        last_job_id,
        revision,
        created_at,
        updated_at,
        last_status,
    ) = row
    return StoredSchedule(
        name=name,
        job=template_job(job),
        cron=cron,
        every=every,
        timezone=timezone,
        missed=missed,
        paused=bool(paused),
        next_run_at=next_run_at,
        last_run_at=last_run_at,
        last_job_id=last_job_id,
        last_status=None if last_status is None else _status(last_status),
        revision=int(revision),
        created_at=created_at,
        updated_at=updated_at,
    )
