"""When may the next job start? Pure pacing rules with the clock passed in.

A :class:`StartPacer` hands out start times: ``reserve(now)`` returns the
earliest moment (``>= now``) the next job may start and commits that start.
Callers then wait until that moment. Nothing here sleeps or reads a clock, so
tests drive thousands of starts with plain numbers.

- :class:`IntervalPacer`: consecutive starts at least ``interval`` seconds apart.
- :class:`SlidingWindowLimiter`: at most ``per_minute`` starts in any 60-second
  window, optionally smoothed so that at most ``burst`` start back to back.
- :class:`CombinedPacer`: every rule of several pacers at once.

Reservations are handed out in order, so start times never go backwards.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ..core.errors import ConfigError

RATE_WINDOW_SECONDS = 60.0


class StartPacer(Protocol):
    def earliest(self, now: float) -> float:
        """The earliest time ``>= now`` at which the next start may happen."""
        ...

    def record(self, at: float) -> None:
        """Commit a start at ``at`` (a value :meth:`earliest` returned)."""
        ...

    def reserve(self, now: float) -> float:
        """:meth:`earliest` then :meth:`record`: the committed start time."""
        ...


class IntervalPacer:
    """Consecutive starts are at least ``interval`` seconds apart."""

    __slots__ = ("_interval", "_next")

    def __init__(self, interval: float) -> None:
        if not (math.isfinite(interval) and interval > 0):
            raise ConfigError(f"interval must be a number of seconds > 0, got {interval!r}")
        self._interval = interval
        self._next = -math.inf

    @property
    def interval(self) -> float:
        return self._interval

    def earliest(self, now: float) -> float:
        return now if now >= self._next else self._next

    def record(self, at: float) -> None:
        self._next = at + self._interval

    def reserve(self, now: float) -> float:
        at = self.earliest(now)
        self.record(at)
        return at


class SlidingWindowLimiter:
    """Never more than ``per_minute`` starts in any 60-second window.

    The hard cap is a sliding log of the last ``per_minute`` start times: a
    start is allowed once the oldest of them is 60 s old. With the default
    ``burst`` (= ``per_minute``) a whole minute's allowance may start at once
    after an idle spell. A smaller ``burst`` adds a GCRA (token bucket) rule:
    at most ``burst`` starts back to back, then one every ``60 / per_minute``
    seconds, and still never more than ``per_minute`` in any window.
    """

    __slots__ = ("_burst", "_limit", "_spacing", "_starts", "_tat", "_tolerance", "_window")

    def __init__(
        self, per_minute: int, *, burst: int | None = None, window: float = RATE_WINDOW_SECONDS
    ) -> None:
        if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
            raise ConfigError(f"per_minute must be a whole number >= 1, got {per_minute!r}")
        if burst is None:
            burst = per_minute
        if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= per_minute:
            raise ConfigError(
                f"burst must be a whole number from 1 to per_minute ({per_minute}), got {burst!r}"
            )
        if not (math.isfinite(window) and window > 0):
            raise ConfigError(f"window must be a number of seconds > 0, got {window!r}")
        self._limit = per_minute
        self._burst = burst
        self._window = window
        self._spacing = window / per_minute
        # GCRA only matters when it is stricter than the window; None turns it off.
        self._tolerance: float | None = (burst - 1) * self._spacing if burst < per_minute else None
        self._tat = -math.inf  # GCRA "theoretical arrival time"
        self._starts: deque[float] = deque(maxlen=per_minute)

    @property
    def per_minute(self) -> int:
        return self._limit

    @property
    def burst(self) -> int:
        return self._burst

    def earliest(self, now: float) -> float:
        at = now
        starts = self._starts
        if starts:
            at = max(at, starts[-1])  # first come, first served: never before a reservation
            if len(starts) == self._limit:
                at = max(at, starts[0] + self._window)
        if self._tolerance is not None:
            at = max(at, self._tat - self._tolerance)
        return at

    def record(self, at: float) -> None:
        self._starts.append(at)
        if self._tolerance is not None:
            self._tat = max(self._tat, at) + self._spacing

    def reserve(self, now: float) -> float:
        at = self.earliest(now)
        self.record(at)
        return at


class CombinedPacer:
    """Obeys every pacer given: a start waits for the strictest of them."""

    __slots__ = ("_pacers",)

    def __init__(self, pacers: Sequence[StartPacer]) -> None:
        self._pacers = tuple(pacers)

    def earliest(self, now: float) -> float:
        return max((p.earliest(now) for p in self._pacers), default=now)

    def record(self, at: float) -> None:
        for pacer in self._pacers:
            pacer.record(at)

    def reserve(self, now: float) -> float:
        at = self.earliest(now)
        self.record(at)
        return at


def combine_pacers(*pacers: StartPacer | None) -> StartPacer | None:
    """One pacer for the given ones (``None`` entries ignored); ``None`` if there are none."""
    present = [p for p in pacers if p is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return CombinedPacer(present)
