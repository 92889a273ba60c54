"""The options every in-memory queue takes: their defaults and their validation.

The defaults come from :class:`~noormme_queue.core.config.QueueConfig` (the
``QUEUE_IN_MEMORY_*`` settings' defaults); a value that makes no sense raises
:class:`~noormme_queue.core.errors.ConfigError` naming the option.
"""

from __future__ import annotations

import math

from ..core.config import QueueConfig
from ..core.errors import ConfigError
from .timeouts import has_timeout

_DEFAULTS = QueueConfig()
DEFAULT_CONCURRENCY = _DEFAULTS.in_memory_concurrency
DEFAULT_INTERVAL = _DEFAULTS.in_memory_interval
DEFAULT_TIMEOUT: float | None = _DEFAULTS.in_memory_timeout


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a queue name must be a non-empty string, got {name!r}")
    return name


def validate_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    return concurrency


def validate_interval(interval: float) -> float:
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ConfigError(f"interval must be a number of seconds >= 0, got {interval!r}")
    if not (math.isfinite(interval) and interval >= 0):
        raise ConfigError(f"interval must be a number of seconds >= 0, got {interval!r}")
    return float(interval)


def validate_timeout(timeout: float | None) -> float | None:
    """Seconds a job may run, or ``None`` for no limit (``0`` means no limit too)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ConfigError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
    return float(timeout) if has_timeout(timeout) else None


def validate_max_size(max_size: int | None) -> int | None:
    if max_size is None:
        return None
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ConfigError(f"max_size must be a whole number >= 1 or None, got {max_size!r}")
    return max_size
