"""Retry policies and every rule about spending attempts, as pure functions.

A claim counts a run (``attempts`` goes up by one); a graceful release gives that run back.
Whether a job runs again after a failed attempt, and when, is decided here only: by
:func:`after_failure` for a handler that raised or timed out, and by
:func:`after_lost_lease` for a job whose worker stopped renewing its lease. The store is
told the decision (a retry time, or ``None`` to fail for good); no SQL re-derives it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidJob
from .signals import RetryLater, UnrecoverableError

DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a failed job is retried. Delays are in seconds.

    The delay before retry ``n`` (``n`` = 1 for the first retry) is
    ``base_delay * backoff_multiplier ** (n - 1)``, capped at ``max_delay``,
    then spread by up to ``jitter`` (a fraction: 0.1 = ±10 %) so that many
    jobs failing together do not retry in lockstep.
    """

    max_retries: int = DEFAULT_MAX_ATTEMPTS - 1
    base_delay: float = 1.0
    max_delay: float = 300.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise InvalidJob(
                f"retry_policy.max_retries must be a whole number >= 0, got {self.max_retries!r}",
                field="retry_policy",
            )
        for name in ("base_delay", "max_delay", "backoff_multiplier", "jitter"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise InvalidJob(
                    f"retry_policy.{name} must be a number >= 0, got {value!r}",
                    field="retry_policy",
                )
        if self.backoff_multiplier < 1:
            raise InvalidJob(
                f"retry_policy.backoff_multiplier must be >= 1, got {self.backoff_multiplier!r}",
                field="retry_policy",
            )
        if self.jitter > 1:
            raise InvalidJob(
                f"retry_policy.jitter must be between 0 and 1, got {self.jitter!r}",
                field="retry_policy",
            )
        if self.max_delay < self.base_delay:
            raise InvalidJob("retry_policy.max_delay must be >= base_delay", field="retry_policy")

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        exponent = max(0, retry_number - 1)
        try:
            raw = self.base_delay * self.backoff_multiplier**exponent
        except OverflowError:
            raw = math.inf
        capped = min(raw, self.max_delay)
        if self.jitter and capped > 0:
            spread = (rng or random).uniform(-self.jitter, self.jitter)
            capped = min(capped * (1 + spread), self.max_delay)
        return max(0.0, capped)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "max_retries": self.max_retries,
            "base_delay": self.base_delay,
            "max_delay": self.max_delay,
            "backoff_multiplier": self.backoff_multiplier,
            "jitter": self.jitter,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """Read snake_case (seconds) or the specification's camelCase (milliseconds).

        ``{"maxRetries": 5, "baseDelay": 2000}`` and ``{"max_retries": 5, "base_delay": 2.0}``
        give the same policy.
        """
        known = {"max_retries", "base_delay", "max_delay", "backoff_multiplier", "jitter"}
        camel_ms = {"baseDelay": "base_delay", "maxDelay": "max_delay"}
        camel = {"maxRetries": "max_retries", "backoffMultiplier": "backoff_multiplier"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                values[key] = value
            elif key in camel:
                values[camel[key]] = value
            elif key in camel_ms:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InvalidJob(
                        f"retry_policy.{key} must be a number of milliseconds, got {value!r}",
                        field="retry_policy",
                    )
                values[camel_ms[key]] = value / 1000.0
            else:
                raise InvalidJob(
                    f"retry_policy has no option {key!r}; expected "
                    f"{', '.join(sorted(known))} (or their camelCase names)",
                    field="retry_policy",
                )
        return cls(**values)


def out_of_attempts(attempts_made: int, max_attempts: int) -> bool:
    """``max_attempts`` counts runs: 3 means one run and two retries."""
    return attempts_made >= max_attempts


def after_failure(
    error: BaseException,
    *,
    attempts_made: int,
    max_attempts: int,
    policy: RetryPolicy | None,
    now: float,
    rng: random.Random | None = None,
) -> float | None:
    """When a job whose handler raised ``error`` runs again, or ``None``: it failed for good.

    ``UnrecoverableError`` fails at once; ``RetryLater`` sets its own delay; anything else
    backs off by ``policy`` (the default policy for the job's ``max_attempts`` when it has
    none). Times are rounded to microseconds, what a datetime holds.
    """
    if isinstance(error, UnrecoverableError) or out_of_attempts(attempts_made, max_attempts):
        return None
    if isinstance(error, RetryLater):
        delay = error.delay
    else:
        delay = (policy or RetryPolicy(max_retries=max_attempts - 1)).delay(attempts_made, rng)
    return round(now + delay, 6)


def after_manual_retry(*, attempts_made: int, budget: int) -> int:
    """The ``max_attempts`` of a job a person retries: its runs go on being numbered (the
    history never shows attempt 1 twice) and it gets its original budget of runs again."""
    return attempts_made + budget


def after_lost_lease(*, attempts_made: int, max_attempts: int, now: float) -> float | None:
    """A job whose lease expired: its run counts, and it is due again at once, or ``None``
    when that was its last attempt (a job that kills its worker cannot loop forever)."""
    return None if out_of_attempts(attempts_made, max_attempts) else now
