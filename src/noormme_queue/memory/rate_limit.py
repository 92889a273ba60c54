"""RateLimitedQueue: an InMemoryQueue whose job starts obey a per-minute limit.

Jobs over the limit wait for their turn; none is dropped. The limit is a
:class:`~noormme_queue.memory.pacing.SlidingWindowLimiter`: never more than
``per_minute`` starts in any 60-second window. ``burst`` (default
``per_minute``) is how many may start back to back after an idle spell;
a smaller burst spreads starts out, one every ``60 / per_minute`` seconds.
``interval`` pacing, when set, applies on top.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from .options import DEFAULT_CONCURRENCY, DEFAULT_INTERVAL, DEFAULT_TIMEOUT
from .pacing import SlidingWindowLimiter
from .queue import InMemoryQueue, P, R


class RateLimitedQueue(InMemoryQueue[P, R]):
    kind = "rate_limited"

    def __init__(
        self,
        name: str,
        per_minute: int,
        *,
        burst: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        interval: float = DEFAULT_INTERVAL,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_size: int | None = None,
        processor: Callable[[P], Awaitable[R]] | Callable[[P], R] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = SlidingWindowLimiter(per_minute, burst=burst)
        super().__init__(
            name,
            concurrency=concurrency,
            interval=interval,
            timeout=timeout,
            max_size=max_size,
            processor=processor,
            limiter=self._limiter,
            monotonic=monotonic,
        )

    @property
    def per_minute(self) -> int:
        return self._limiter.per_minute

    @property
    def burst(self) -> int:
        return self._limiter.burst
