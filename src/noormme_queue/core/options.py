"""The options of ``add_job``, defined once.

:class:`JobOptions` is the one definition: its fields are the option names, their types and
defaults, and each field's ``metadata["doc"]`` says what it means. Every other face follows
it: ``QueueManager.add_job``'s keywords, the sync twin's :class:`AddJobOptions`, the REST
model and README's options table are checked against it by ``tests/test_options.py``. To add
an option, add a field here, then what that test names.

Each check raises :class:`~noormme_queue.core.errors.InvalidJob` with ``field`` set to the
option's name, so faces report the option as their callers spell it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypedDict, TypeGuard

from .errors import InvalidJob
from .retry import RetryPolicy

MAX_UNIQUE_KEY_LENGTH = 1000
MIN_TIMESTAMP = 0.0  # 1970-01-01T00:00:00Z
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last instant a datetime holds
INT64 = 2**63
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """The keyword options of ``add_job`` (all optional)."""

    priority: int = field(default=0, metadata={"doc": "higher runs first; any 64-bit integer"})
    delay: float | None = field(
        default=None, metadata={"doc": "seconds from now before the job may run"}
    )
    run_at: datetime | None = field(
        default=None, metadata={"doc": "when the job may run (timezone-aware); not with delay"}
    )
    max_attempts: int | None = field(
        default=None, metadata={"doc": "runs in all, retries included (default 3)"}
    )
    retry_policy: RetryPolicy | Mapping[str, Any] | None = field(
        default=None, metadata={"doc": "backoff between retries; stored on the job"}
    )
    unique_key: str | None = field(
        default=None, metadata={"doc": "enqueue is idempotent while a job with it is live"}
    )
    timeout: float | None = field(
        default=None, metadata={"doc": "seconds a run may take before it is cancelled"}
    )
    queue: str | None = field(
        default=None, metadata={"doc": "the queue; default the handler's queue, else default"}
    )
    limit_key: str | None = field(
        default=None, metadata={"doc": "the type's limits apply to each key on its own"}
    )

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> JobOptions:
        """Options from a mapping (``add_jobs``' third item); an unknown name is refused
        with the closest known one."""
        known = option_names()
        for name in options:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InvalidJob(
                    f"unknown job option {name!r}{hint} (known: {', '.join(known)})",
                    field=str(name),
                )
        return cls(**options)


class AddJobOptions(TypedDict, total=False):
    """``JobOptions`` as keyword arguments, for signatures that pass them on."""

    priority: int
    delay: float | None
    run_at: datetime | None
    max_attempts: int | None
    retry_policy: RetryPolicy | Mapping[str, Any] | None
    unique_key: str | None
    timeout: float | None
    queue: str | None
    limit_key: str | None


@cache
def option_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(JobOptions))  # once: add_jobs checks every item


def option_docs() -> dict[str, str]:
    return {f.name: f.metadata["doc"] for f in fields(JobOptions)}


# -- checks, each naming its option ---------------------------------------------------------


def check_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -INT64 <= value < INT64:
        raise InvalidJob(f"priority must be a whole number, got {value!r}", field="priority")
    return value


def run_at_timestamp(options: JobOptions, now: float) -> float:
    """When the job may run, as Unix seconds rounded to microseconds (what a datetime holds);
    refused outside 1970-01-01 .. 9999-12-31 UTC."""
    if options.delay is not None and options.run_at is not None:
        raise InvalidJob("give either delay or run_at, not both", field="delay")
    if options.delay is not None:
        delay = options.delay
        if not _number(delay) or delay < 0:
            raise InvalidJob(f"delay must be a number of seconds >= 0, got {delay!r}", "delay")
        when, name = now + delay, "delay"
    elif options.run_at is not None:
        run_at = options.run_at
        if not isinstance(run_at, datetime):
            raise InvalidJob(
                f"run_at must be a datetime, got {type(run_at).__name__}", field="run_at"
            )
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise InvalidJob(
                "run_at must be timezone-aware (e.g. datetime.now(UTC) + timedelta(...)); a "
                "naive datetime is ambiguous",
                field="run_at",
            )
        when, name = (run_at - EPOCH).total_seconds(), "run_at"
    else:
        return round(now, 6)
    if not MIN_TIMESTAMP <= when <= MAX_TIMESTAMP:
        raise InvalidJob(
            f"{name} puts the job outside 1970-01-01 .. 9999-12-31 UTC; check {name}",
            field=name,
        )
    return round(when, 6)


def check_max_attempts(value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidJob(
            f"max_attempts must be a whole number >= 1, got {value!r}", field="max_attempts"
        )
    return value


def check_unique_key(value: object) -> str | None:
    if value is not None and (
        not isinstance(value, str) or not value or len(value) > MAX_UNIQUE_KEY_LENGTH
    ):
        raise InvalidJob(
            f"unique_key must be a non-empty string of at most {MAX_UNIQUE_KEY_LENGTH} "
            f"characters, got {value!r}",
            field="unique_key",
        )
    return value


def check_timeout(value: object) -> float | None:
    if value is None:
        return None
    if not _number(value) or value <= 0:
        raise InvalidJob(f"timeout must be a number of seconds > 0, got {value!r}", "timeout")
    return float(value)


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
