"""Validation of enqueue requests: everything is checked before a row is written."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from ..core.errors import InvalidJob, InvalidPayload, PayloadTooLarge
from ..core.job import JSON, new_job_id
from ..core.retry import DEFAULT_MAX_ATTEMPTS, RetryPolicy
from ..store import NewJob
from .binding import BoundHandler

MAX_TYPE_LENGTH = 200
MAX_UNIQUE_KEY_LENGTH = 1000
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last instant a datetime holds
INT64 = 2**63


class AddJobOptions(TypedDict, total=False):
    """The keyword options of ``add_job``, for signatures that pass them on."""

    priority: int
    delay: float | None
    run_at: datetime | None
    max_attempts: int | None
    retry_policy: RetryPolicy | Mapping[str, Any] | None
    unique_key: str | None
    timeout: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """The keyword options of ``add_job`` (all optional)."""

    priority: int = 0
    delay: float | None = None
    run_at: datetime | None = None
    max_attempts: int | None = None
    retry_policy: RetryPolicy | Mapping[str, Any] | None = None
    unique_key: str | None = None
    timeout: float | None = None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> JobOptions:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(options) - known
        if unknown:
            raise InvalidJob(
                f"unknown job option(s) {', '.join(sorted(unknown))}; expected "
                f"{', '.join(sorted(known))}"
            )
        return cls(**options)


def validate_type(job_type: object) -> str:
    if not isinstance(job_type, str) or not job_type.strip():
        raise InvalidJob(f"job type must be a non-empty string, got {job_type!r}")
    if job_type != job_type.strip() or len(job_type) > MAX_TYPE_LENGTH:
        raise InvalidJob(
            f"job type {job_type!r} must have no surrounding spaces and at most "
            f"{MAX_TYPE_LENGTH} characters"
        )
    return job_type


def encode_payload(payload: object, handler: BoundHandler | None, max_bytes: int) -> str:
    """Validate against the handler's model (if any) and encode as compact JSON."""
    if handler is not None and handler.payload_model is not None:
        from ..handlers.payload import validate_payload  # pydantic loads only when a model exists

        payload = validate_payload(handler.payload_model, payload)
    elif hasattr(payload, "model_dump") and callable(payload.model_dump):
        payload = payload.model_dump(mode="json")
    try:
        text = json.dumps(payload, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"payload is not JSON-serialisable: {exc}", field="payload") from None
    size = len(text.encode())
    if size > max_bytes:
        raise PayloadTooLarge(
            f"payload is {size} bytes, over the {max_bytes}-byte limit "
            "(QUEUE_MAX_PAYLOAD_BYTES); store large data elsewhere and enqueue a reference",
            field="payload",
        )
    return text


def build_job(
    job_type: object,
    payload: JSON,
    options: JobOptions,
    *,
    handler: BoundHandler | None,
    now: float,
    max_payload_bytes: int,
) -> NewJob:
    job_type = validate_type(job_type)
    text = encode_payload(payload, handler, max_payload_bytes)
    priority = options.priority
    if (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not -INT64 <= priority < INT64
    ):
        raise InvalidJob(f"priority must be a whole number, got {priority!r}")
    run_at = _run_at(options, now)
    policy = _policy(options, handler, json.loads(text) if handler else None)
    max_attempts = options.max_attempts
    if max_attempts is not None and (
        isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1
    ):
        raise InvalidJob(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
    if policy is not None:
        if (
            max_attempts is not None
            and options.retry_policy is not None
            and max_attempts != policy.max_attempts
        ):
            raise InvalidJob(
                f"max_attempts={max_attempts} contradicts retry_policy.max_retries="
                f"{policy.max_retries} (max_attempts = max_retries + 1); give one of them"
            )
        if max_attempts is None:
            max_attempts = policy.max_attempts
    if max_attempts is None:
        max_attempts = DEFAULT_MAX_ATTEMPTS
    unique_key = options.unique_key
    if unique_key is not None and (
        not isinstance(unique_key, str) or not unique_key or len(unique_key) > MAX_UNIQUE_KEY_LENGTH
    ):
        raise InvalidJob(
            f"unique_key must be a non-empty string of at most "
            f"{MAX_UNIQUE_KEY_LENGTH} characters, got {unique_key!r}"
        )
    timeout = options.timeout
    if timeout is not None and not (_number(timeout) and timeout > 0):
        raise InvalidJob(f"timeout must be a number of seconds > 0, got {timeout!r}")
    return NewJob(
        id=new_job_id(),
        type=job_type,
        payload=text,
        priority=priority,
        max_attempts=max_attempts,
        run_at=run_at,
        created_at=round(now, 6),
        retry_policy=None if policy is None else json.dumps(policy.to_dict()),
        unique_key=unique_key,
        timeout=None if timeout is None else float(timeout),
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _run_at(options: JobOptions, now: float) -> float:
    if options.delay is not None and options.run_at is not None:
        raise InvalidJob("give either delay or run_at, not both")
    if options.delay is not None:
        if not _number(options.delay) or options.delay < 0:
            raise InvalidJob(f"delay must be a number of seconds >= 0, got {options.delay!r}")
        when = now + options.delay
    elif options.run_at is not None:
        run_at = options.run_at
        if not isinstance(run_at, datetime):
            raise InvalidJob(f"run_at must be a datetime, got {type(run_at).__name__}")
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise InvalidJob(
                "run_at must be timezone-aware (e.g. datetime.now(UTC) + timedelta(...)); a "
                "naive datetime is ambiguous"
            )
        when = run_at.timestamp()
    else:
        return round(now, 6)
    if when > MAX_TIMESTAMP:
        raise InvalidJob("the job would run after the year 9999; check delay / run_at")
    return round(when, 6)  # microseconds, exactly what a datetime holds


def _policy(options: JobOptions, handler: BoundHandler | None, payload: JSON) -> RetryPolicy | None:
    given = options.retry_policy
    if given is None:
        if handler is None:
            return None
        from_payload = handler.retry_policy_for(payload)
        if from_payload is not None and options.max_attempts is not None:
            # An explicit max_attempts beats the payload's max_retries.
            data = from_payload.to_dict() | {"max_retries": options.max_attempts - 1}
            return RetryPolicy(**data)  # type: ignore[arg-type]
        return from_payload
    if isinstance(given, RetryPolicy):
        return given
    if isinstance(given, Mapping):
        if options.max_attempts is not None and not {"max_retries", "maxRetries"} & set(given):
            # A policy that leaves the count out takes it from max_attempts.
            given = {**given, "max_retries": options.max_attempts - 1}
        return RetryPolicy.from_dict(given)
    raise InvalidJob(f"retry_policy must be a RetryPolicy or a mapping, got {given!r}")
