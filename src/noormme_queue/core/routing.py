"""Queue names, the queues a worker consumes, and the limits of a job type: parsing and
validation, pure.

- A queue name is 1-64 characters of letters, digits, ``_``, ``-``, ``.`` and ``:``,
  starting with a letter or digit (``default``, ``emails``, ``reports.eu``).
- ``QUEUE_QUEUES`` / ``QueueConfig(queues=...)`` / ``worker --queues``: comma-separated
  names, each with an optional concurrency (``default,emails=10``); unset means every
  queue.
- ``rate_limit="N/second|minute|hour"`` (also ``N/s``, ``N/min``, ``N/h``, and an explicit
  window such as ``N/30s``): at most N starts in any window of that length.
- ``concurrency_limit=N``: at most N jobs processing at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError, InvalidJob

DEFAULT_QUEUE = "default"
MAX_QUEUE_NAME = 64
MAX_LIMIT_KEY = 200

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")
_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]+)\s*")


def check_queue_name(name: object, *, field: str = "queue") -> str:
    """A valid queue name, or ``InvalidJob`` (with ``field``) saying what is wrong."""
    if not isinstance(name, str) or not name:
        raise InvalidJob(f"a queue name must be a non-empty string, got {name!r}", field)
    if len(name) > MAX_QUEUE_NAME or not _NAME.fullmatch(name):
        raise InvalidJob(
            f"queue name {name!r} must be 1-{MAX_QUEUE_NAME} letters, digits, '_', '-', '.' "
            "or ':', starting with a letter or digit",
            field,
        )
    return name


def check_limit_key(key: object) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_LIMIT_KEY:
        raise InvalidJob(
            f"limit_key must be a non-empty string of at most {MAX_LIMIT_KEY} characters, "
            f"got {key!r}",
            "limit_key",
        )
    return key


def parse_queues(spec: str | Mapping[str, int | None] | None) -> dict[str, int | None] | None:
    """``"default,emails=10"`` -> ``{"default": None, "emails": 10}``; ``None`` or ``""``:
    every queue. A mapping is checked the same way."""
    if spec is None:
        return None
    items: list[tuple[str, int | None]] = []
    if isinstance(spec, str):
        if not spec.strip():
            return None
        for part in spec.split(","):
            name, sep, number = part.strip().partition("=")
            if not sep:
                items.append((name.strip(), None))
                continue
            try:
                items.append((name.strip(), int(number)))
            except ValueError:
                raise ConfigError(
                    f"queues: {part.strip()!r} must be name or name=concurrency (a whole "
                    "number), e.g. 'default,emails=10'"
                ) from None
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        raise ConfigError(f"queues must be a string like 'default,emails=10', got {spec!r}")
    queues: dict[str, int | None] = {}
    for name, count in items:
        try:
            check_queue_name(name)
        except InvalidJob as exc:
            raise ConfigError(f"queues: {exc}") from None
        if name in queues:
            raise ConfigError(f"queues: {name!r} is listed twice")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ConfigError(f"queues: the concurrency of {name!r} must be a whole number")
        if count is not None and count < 1:
            raise ConfigError(f"queues: the concurrency of {name!r} must be >= 1, got {count}")
        queues[name] = count
    if not queues:
        raise ConfigError("queues: no queue named; leave it unset to consume every queue")
    return queues


def format_queues(queues: Mapping[str, int | None]) -> str:
    return ",".join(name if n is None else f"{name}={n}" for name, n in queues.items())


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` starts in any window of ``window`` seconds."""

    count: int
    window: float

    def __str__(self) -> str:
        names = {1.0: "second", 60.0: "minute", 3600.0: "hour"}
        unit = names.get(self.window)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.window:g}s"


def parse_rate_limit(value: object) -> RateLimit | None:
    """``"30/minute"`` -> ``RateLimit(30, 60.0)``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, RateLimit):
        return value
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    unit = _UNITS.get(match.group(3)) if match else None
    if match is None or unit is None:
        raise ConfigError(
            f"rate_limit must look like '100/minute' (N per second, minute or hour, or "
            f"'N/30s'), got {value!r}"
        )
    count = int(match.group(1))
    scale = float(match.group(2)) if match.group(2) else 1.0
    if count < 1 or scale <= 0:
        raise ConfigError(f"rate_limit must allow at least 1 start per window, got {value!r}")
    return RateLimit(count, scale * unit)


def check_concurrency_limit(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"concurrency_limit must be a whole number >= 1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class TypeLimits:
    """The limits of one job type, across every worker: at most ``concurrency`` processing
    at once and at most ``rate`` starts per window, each per ``limit_key`` when a job has
    one."""

    concurrency: int | None = None
    rate: RateLimit | None = None

    @property
    def any(self) -> bool:
        return self.concurrency is not None or self.rate is not None

    def describe(self) -> str:
        parts = []
        if self.concurrency is not None:
            parts.append(f"concurrency_limit={self.concurrency}")
        if self.rate is not None:
            parts.append(f"rate_limit={self.rate}")
        return ", ".join(parts) or "no limits"


@dataclass(frozen=True, slots=True)
class TypeDefinition:
    """A job type as a worker registered it: its queue and its limits."""

    type: str
    queue: str
    limits: TypeLimits
    defined_by: str
    updated_at: float = 0.0

    def same_as(self, other: TypeDefinition) -> bool:
        return (self.type, self.queue, self.limits) == (other.type, other.queue, other.limits)
