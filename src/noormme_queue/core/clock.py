"""One source of wall-clock time, so tests can pin it.

Times are Unix seconds (float, UTC). Every store call receives ``now`` from a
clock instead of asking the database, so a test with a :class:`ManualClock`
controls delays, backoff, leases and cleanup without sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current Unix time in seconds."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def set(self, value: float) -> None:
        with self._lock:
            self._now = value

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


SYSTEM_CLOCK: Clock = SystemClock()
