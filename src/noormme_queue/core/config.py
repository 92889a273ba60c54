"""Validated, immutable queue configuration.

:class:`QueueConfig` fields are the ``QUEUE_*`` variable names without the
prefix, in lower case, with durations in seconds. ``from_env()`` reads the
variables at the edge of the program; the environment keeps the
specification's millisecond units. A value that does not parse stops start-up
with a :class:`~noormme_queue.core.errors.ConfigError` naming the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError
from .routing import format_queues, parse_queues, parse_rate_limit

DEFAULT_DATABASE_URL = "sqlite:///./data/queue.db"
SQLITE_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """Settings of one :class:`~noormme_queue.QueueManager`.

    Zero is meaningful where noted: ``cleanup_interval=0`` turns the cleanup
    loop off, ``cleanup_days=0`` lets cleanup remove every finished job,
    ``in_memory_interval=0`` leaves in-memory queues unpaced,
    ``in_memory_timeout=0`` disables the in-memory timeout and
    ``shutdown_timeout=0`` hands in-flight jobs back at once on stop.
    """

    database_url: str = DEFAULT_DATABASE_URL
    concurrency: int = 5
    interval: float = 1.0
    batch_size: int = 10
    cleanup_days: float = 7.0
    cleanup_interval: float = 3600.0
    in_memory_concurrency: int = 3
    in_memory_interval: float = 0.1
    in_memory_timeout: float = 30.0
    lease_timeout: float = 30.0
    shutdown_timeout: float = 30.0
    max_payload_bytes: int = 1_048_576
    sqlite_synchronous: str = "NORMAL"
    api_token: str | None = None
    webhook_allow_private: bool = False
    queues: str | None = None
    """The queues this worker consumes, each with an optional concurrency
    (``"default,emails=10"``); ``None``: every queue."""
    webhook_rate_limit: str | None = None
    """A provider's limit on the built-in ``webhook`` jobs, all workers together
    (``"100/minute"``)."""
    email_rate_limit: str | None = None
    """A provider's limit on the built-in ``email`` and ``newsletter`` jobs, all workers
    together (``"10/second"``)."""

    def __post_init__(self) -> None:
        _require(bool(self.database_url.strip()), "database_url", "must not be empty")
        for name in ("concurrency", "batch_size", "in_memory_concurrency", "max_payload_bytes"):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                name,
                f"must be a whole number >= 1, got {value!r}",
            )
        for name in ("interval", "lease_timeout"):
            _require(
                _finite(getattr(self, name)) and getattr(self, name) > 0,
                name,
                f"must be a number of seconds > 0, got {getattr(self, name)!r}",
            )
        for name in (
            "cleanup_days",
            "cleanup_interval",
            "in_memory_interval",
            "in_memory_timeout",
            "shutdown_timeout",
        ):
            _require(
                _finite(getattr(self, name)) and getattr(self, name) >= 0,
                name,
                f"must be a number >= 0, got {getattr(self, name)!r}",
            )
        try:
            queues = parse_queues(self.queues)
        except ConfigError as exc:
            raise _FieldError("queues", str(exc).removeprefix("queues: ")) from None
        object.__setattr__(self, "queues", None if queues is None else format_queues(queues))
        for name in ("webhook_rate_limit", "email_rate_limit"):
            try:
                parse_rate_limit(getattr(self, name))
            except ConfigError as exc:
                raise _FieldError(name, str(exc).removeprefix("rate_limit ")) from None
        mode = self.sqlite_synchronous.upper()
        _require(
            mode in SQLITE_SYNCHRONOUS_MODES,
            "sqlite_synchronous",
            f"must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}, "
            f"got {self.sqlite_synchronous!r}",
        )
        object.__setattr__(self, "sqlite_synchronous", mode)

    @property
    def queue_concurrency(self) -> dict[str, int | None] | None:
        """:attr:`queues` parsed: name -> its own concurrency (``None``: the worker's)."""
        return parse_queues(self.queues)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> QueueConfig:
        """Build a config from ``QUEUE_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            var = "QUEUE_" + field.name.upper()
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[field.name] = _ENV_PARSERS.get(field.name, parse_str)(var, raw.strip())
        try:
            return cls(**values)
        except _FieldError as exc:
            # Name the variable the user set, not the Python field.
            raise ConfigError(f"QUEUE_{exc.field.upper()} {exc.problem}") from None


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _FieldError(ConfigError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"QueueConfig.{field} {problem}")
        self.field = field
        self.problem = problem


def _require(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise _FieldError(name, problem)


# -- parsers shared by every *_from_env in the package ---------------------------------------


def parse_str(var: str, raw: str) -> str:
    return raw


def parse_int(var: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{var} must be a whole number, got {raw!r}") from None


def parse_float(var: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{var} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{var} must be a finite number, got {raw!r}")
    return value


def parse_ms(var: str, raw: str) -> float:
    """Milliseconds in the environment, seconds in Python."""
    try:
        return parse_float(var, raw) / 1000.0
    except ConfigError:
        raise ConfigError(f"{var} must be a number of milliseconds, got {raw!r}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(var: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{var} must be true or false, got {raw!r}")


_ENV_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "concurrency": parse_int,
    "interval": parse_ms,
    "batch_size": parse_int,
    "cleanup_days": parse_float,
    "cleanup_interval": parse_ms,
    "in_memory_concurrency": parse_int,
    "in_memory_interval": parse_ms,
    "in_memory_timeout": parse_ms,
    "lease_timeout": parse_ms,
    "shutdown_timeout": parse_ms,
    "max_payload_bytes": parse_int,
    "webhook_allow_private": parse_bool,
}
