"""A snapshot of one in-memory queue's state and figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryQueueStats:
    """What :meth:`InMemoryQueue.stats` returns.

    Counts are of jobs (for a batch queue, of items). ``completed``, ``failed``,
    ``timed_out``, ``cancelled`` (the caller gave up) and ``dropped`` (cleared,
    or dropped on stop) are totals since the queue was created. Durations are
    seconds per run (for a batch queue, per batch), ``None`` before any run
    finished; ``throughput`` is jobs finished per second over the last ten
    seconds.
    """

    name: str
    kind: str
    concurrency: int
    paused: bool
    queued: int
    running: int
    completed: int
    failed: int
    timed_out: int
    cancelled: int
    dropped: int
    mean_duration: float | None
    p95_duration: float | None
    throughput: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
