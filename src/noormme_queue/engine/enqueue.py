"""Turning an enqueue request into a row to write: everything is checked first.

The options are checked by :mod:`~noormme_queue.core.options`; here the payload meets its
handler's model (if any), is bounded in depth and size and encoded, and the retry policy is
settled from the options, the handler's default and ``max_attempts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import InvalidJob, InvalidPayload, PayloadTooLarge
from ..core.ids import new_job_id
from ..core.job import JSON
from ..core.options import (
    JobOptions,
    check_max_attempts,
    check_priority,
    check_timeout,
    check_unique_key,
    run_at_timestamp,
)
from ..core.retry import DEFAULT_MAX_ATTEMPTS, RetryPolicy
from ..core.routing import check_limit_key, check_queue_name
from ..store import NewJob
from .binding import BoundHandler

MAX_TYPE_LENGTH = 200
MAX_PAYLOAD_DEPTH = 64
"""Lists and objects nested deeper than this are refused: a payload is data, not a tree to
recurse into, and deep nesting breaks JSON tools (redaction, serialisers) downstream."""


def validate_type(job_type: object) -> str:
    if not isinstance(job_type, str) or not job_type.strip():
        raise InvalidJob(f"job type must be a non-empty string, got {job_type!r}", "type")
    if job_type != job_type.strip() or len(job_type) > MAX_TYPE_LENGTH:
        raise InvalidJob(
            f"job type {job_type!r} must have no surrounding spaces and at most "
            f"{MAX_TYPE_LENGTH} characters",
            "type",
        )
    return job_type


# Compact JSON; one encoder for every payload (json.dumps with options builds one per call).
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)
_SCALARS = frozenset((str, int, float, bool, type(None)))


def check_depth(value: object, limit: int = MAX_PAYLOAD_DEPTH) -> None:
    """Refuse lists and dicts nested more than ``limit`` deep (without recursing)."""
    if type(value) is dict and _SCALARS.issuperset(map(type, value.values())):
        return  # a flat object, the common payload: one level
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[object]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise InvalidPayload(
                f"payload is nested deeper than {limit} levels; flatten it", field="payload"
            )
        stack.extend((child, depth + 1) for child in children)


def encode_payload(payload: object, handler: BoundHandler | None, max_bytes: int) -> str:
    """Validate against the handler's model (if any) and encode as compact JSON."""
    check_depth(payload)
    if handler is not None and handler.payload_model is not None:
        from ..handlers.payload import validate_payload  # pydantic loads only for a model

        payload = validate_payload(handler.payload_model, payload)
    elif hasattr(payload, "model_dump") and callable(payload.model_dump):
        payload = payload.model_dump(mode="json")
    if handler is not None:
        handler.check_payload(payload)
    try:
        text = _ENCODER.encode(payload)
        size = len(text.encode())
    except UnicodeEncodeError as exc:
        raise InvalidPayload(
            f"payload holds text that is not valid Unicode ({exc.reason}: a lone surrogate "
            f"such as '\\ud800'?)",
            field="payload",
        ) from None
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"payload is not JSON-serialisable: {exc}", field="payload") from None
    except RecursionError:  # a model that dumps deeper than the input was
        raise InvalidPayload("payload is nested too deeply", field="payload") from None
    if size > max_bytes:
        raise PayloadTooLarge(
            f"payload is {size} bytes, over the {max_bytes}-byte limit "
            "(QUEUE_MAX_PAYLOAD_BYTES); store large data elsewhere and enqueue a reference",
            field="payload",
        )
    return text


def job_specs(jobs: Iterable[Any]) -> list[tuple[str, JSON, JobOptions]]:
    """``add_jobs``' items, ``(type, payload)`` or ``(type, payload, options)``, checked."""
    specs: list[tuple[str, JSON, JobOptions]] = []
    defaults = JobOptions()  # frozen: one for every item given without options
    for index, spec in enumerate(jobs):
        if not isinstance(spec, tuple) or len(spec) not in (2, 3):
            raise InvalidJob(
                f"jobs[{index}] must be (type, payload) or (type, payload, options), got {spec!r}"
            )
        options = JobOptions.from_mapping(spec[2]) if len(spec) == 3 else defaults
        specs.append((spec[0], spec[1], options))
    return specs


def build_job(
    job_type: object,
    payload: JSON,
    options: JobOptions,
    *,
    handler: BoundHandler | None,
    now: float,
    max_payload_bytes: int,
    by: str | None = None,
) -> NewJob:
    """``by``: how it was enqueued (checked by the caller, ``core/events.py``)."""
    job_type = validate_type(job_type)
    text = encode_payload(payload, handler, max_payload_bytes)
    priority = check_priority(options.priority)
    run_at = run_at_timestamp(options, now)
    max_attempts = check_max_attempts(options.max_attempts)
    policy = _policy(options, handler, json.loads(text) if handler else None)
    if policy is not None:
        if (
            max_attempts is not None
            and options.retry_policy is not None
            and max_attempts != policy.max_attempts
        ):
            raise InvalidJob(
                f"max_attempts={max_attempts} contradicts retry_policy.max_retries="
                f"{policy.max_retries} (max_attempts = max_retries + 1); give one of them",
                "max_attempts",
            )
        if max_attempts is None:
            max_attempts = policy.max_attempts
    return NewJob(
        id=new_job_id(),
        type=job_type,
        payload=text,
        priority=priority,
        max_attempts=DEFAULT_MAX_ATTEMPTS if max_attempts is None else max_attempts,
        run_at=run_at,
        created_at=round(now, 6),
        retry_policy=None if policy is None else json.dumps(policy.to_dict()),
        unique_key=check_unique_key(options.unique_key),
        timeout=check_timeout(options.timeout),
        queue=_queue(options, handler),
        limit_key=check_limit_key(options.limit_key),
        by=by,
    )


def _queue(options: JobOptions, handler: BoundHandler | None) -> str | None:
    """The job's queue: given, else its handler's here, else ``None``: the store puts it in
    the queue a worker registered for the type (a web process need not register handlers)."""
    if options.queue is not None:
        return check_queue_name(options.queue)
    return None if handler is None else handler.queue


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
    raise InvalidJob(
        f"retry_policy must be a RetryPolicy or a mapping, got {given!r}", "retry_policy"
    )
