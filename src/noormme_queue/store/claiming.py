"""Choosing what one claim takes: pure, shared by the backends.

A claim looks at due jobs one (queue, type) pair at a time, each pair's candidates read in
claim order (highest priority, then ``run_at``, then creation) from an index seek, so a
backlog of other types, other queues or jobs due later is never walked. :func:`pick`
merges the pairs' candidates in claim order and takes them while the claim's limits allow:

- the claim's ``limit`` (the worker's free slots, at most its batch size);
- a budget per queue (``QUEUE_QUEUES=default,emails=10``: the slots each queue may still
  fill here);
- the job type's concurrency and rate limits, counted per ``limit_key`` (a job without a
  key shares the key ``None``), from the jobs processing now and the starts in the rate's
  window, read in the same transaction.

A job held back by a limit is skipped, not waited for: the claim takes the next candidate,
of its type or another. Past a saturated key a claim looks at most :data:`LOOK_AHEAD`
further candidates of that type.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

LOOK_AHEAD = 100
STAGE_BATCH = 500  # scheduled jobs made due by one claim


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    queue: str
    type: str
    limit_key: str | None
    priority: int
    run_at: float

    @property
    def order(self) -> tuple[int, float, str]:
        return (-self.priority, self.run_at, self.id)


@dataclass(frozen=True, slots=True)
class Limit:
    """A job type's limits as stored (``noormme_types``)."""

    concurrency: int | None = None
    rate_count: int | None = None
    rate_window: float | None = None


@dataclass(slots=True)
class Usage:
    """What a limited type already uses, per ``limit_key``."""

    running: dict[str | None, int] = field(default_factory=dict)
    started: dict[str | None, int] = field(default_factory=dict)
    oldest_start: dict[str | None, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Picked:
    ids: list[str]
    starts: list[tuple[str, str | None]]
    """``(type, limit_key)`` of each pick of a rate-limited type, to record."""
    retry_at: float | None
    """When a job held back by a rate limit may start (``None``: none was held back)."""


def ready_pairs(
    pairs: Iterable[tuple[str, str]],
    *,
    types: Iterable[str],
    queues: Mapping[str, int] | None,
    paused: Iterable[str],
) -> list[tuple[str, str]]:
    """The (queue, type) pairs with due jobs that this claim may take from."""
    wanted = set(types)
    stopped = set(paused)
    return sorted(
        (queue, type_)
        for queue, type_ in pairs
        if type_ in wanted and queue not in stopped and (queues is None or queue in queues)
    )


def depth(limit: int, limited: Limit | None, usage: Usage | None) -> int:
    """How many candidates of one pair to read: enough to fill the claim, and some more
    past keys that are at their limit."""
    if limited is None or usage is None:
        return limit
    full = any(_budget(limited, usage, key, 0.0) == 0 for key in _keys(usage))
    return limit + LOOK_AHEAD if full else limit


def pick(
    candidates: Iterable[Sequence[Candidate]],
    *,
    limit: int,
    queues: Mapping[str, int] | None,
    limits: Mapping[str, Limit],
    usage: Mapping[str, Usage],
    now: float,
) -> Picked:
    """Merge the pairs' candidates (each in claim order) and take what the limits allow."""
    taken: list[str] = []
    starts: list[tuple[str, str | None]] = []
    left = dict(queues) if queues is not None else None
    used: dict[tuple[str, str | None], int] = {}
    retry_at: float | None = None
    for job in heapq.merge(*candidates, key=lambda c: c.order):
        if len(taken) >= limit:
            break
        if left is not None and left.get(job.queue, 0) <= 0:
            continue
        limited = limits.get(job.type)
        if limited is not None:
            key = (job.type, job.limit_key)
            spent = used.get(key, 0)
            type_usage = usage.get(job.type) or Usage()
            if _budget(limited, type_usage, job.limit_key, now) - spent <= 0:
                free_at = _rate_free_at(limited, type_usage, job.limit_key, spent, now)
                if free_at is not None:
                    retry_at = free_at if retry_at is None else min(retry_at, free_at)
                continue
            used[key] = spent + 1
            if limited.rate_count is not None:
                starts.append(key)
        taken.append(job.id)
        if left is not None:
            left[job.queue] -= 1
    return Picked(taken, starts, retry_at)


def _keys(usage: Usage) -> set[str | None]:
    return set(usage.running) | set(usage.started)


def _budget(limited: Limit, usage: Usage, key: str | None, now: float) -> float:
    budget = math.inf
    if limited.concurrency is not None:
        budget = limited.concurrency - usage.running.get(key, 0)
    if limited.rate_count is not None:
        budget = min(budget, limited.rate_count - usage.started.get(key, 0))
    return max(budget, 0)


def _rate_free_at(
    limited: Limit, usage: Usage, key: str | None, spent: int, now: float
) -> float | None:
    """When a start slot of ``key`` frees up, if the rate is what holds it back."""
    if limited.rate_count is None or limited.rate_window is None:
        return None
    if usage.started.get(key, 0) + spent < limited.rate_count:
        return None  # concurrency holds it back: a finishing job frees it
    oldest = usage.oldest_start.get(key)
    return (now if oldest is None else oldest) + limited.rate_window
