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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

LOOK_AHEAD = 100
STAGE_BATCH = 500  # scheduled jobs made due by one claim
FORGET_BATCH = 10_000  # starts that left their window forgotten by one claim (PostgreSQL)


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


class ClaimReader(Protocol):
    """What :func:`plan` reads, in the claim's transaction, from one backend."""

    def candidates(self, queue: str, type_: str, count: int) -> list[Candidate]:
        """The pair's first ``count`` due jobs, in claim order."""
        ...

    def running(self, type_: str) -> dict[str | None, int]:
        """Jobs of ``type_`` processing now, per limit_key."""
        ...

    def started(self, type_: str, keys: set[str | None]) -> dict[str | None, int]:
        """Starts of ``type_`` in its rate window, for each of ``keys`` (expired starts
        already forgotten)."""
        ...

    def oldest_start(self, type_: str, key: str | None, since: float) -> float | None:
        """The earliest start of ``key`` after ``since``."""
        ...


def plan(
    pairs: Sequence[tuple[str, str]],
    *,
    limit: int,
    queues: Mapping[str, int] | None,
    limits: Mapping[str, Limit],
    reader: ClaimReader,
    now: float,
) -> Picked:
    """Read each pair's candidates and what the limited types use, then :func:`pick`.

    A limited type's usage is read only for the keys of its candidates. When a pair's page
    was full and holds a key with more candidates (in all the type's pages) than the key has
    room for, some of them will be skipped, and the jobs behind the page may be needed in
    their place: the pair is read again deeper (LOOK_AHEAD more)."""
    budgets = {
        pair: limit if queues is None else min(limit, queues.get(pair[0], 0)) for pair in pairs
    }
    found = {pair: reader.candidates(*pair, n) for pair, n in budgets.items() if n > 0}
    usage = {t: Usage() for t in limits}
    for type_, limited in limits.items():
        if limited.concurrency is not None:
            usage[type_].running = reader.running(type_)
    _read_starts(found, limits, usage, reader)
    wanted = Counter((t, job.limit_key) for (_, t), jobs in found.items() for job in jobs)
    for pair, jobs in list(found.items()):
        of_pair = limits.get(pair[1])
        if of_pair is None or len(jobs) < budgets[pair]:
            continue
        room = usage[pair[1]]
        if any(wanted[pair[1], k] > _budget(of_pair, room, k) for k in {j.limit_key for j in jobs}):
            found[pair] = reader.candidates(*pair, budgets[pair] + LOOK_AHEAD)
    _read_starts(found, limits, usage, reader)
    for type_, limited in limits.items():
        if limited.rate_count is None or limited.rate_window is None:
            continue
        since = now - limited.rate_window
        for key, n in usage[type_].started.items():
            if n >= limited.rate_count:
                oldest = reader.oldest_start(type_, key, since)
                if oldest is not None:
                    usage[type_].oldest_start[key] = oldest
    return pick(found.values(), limit=limit, queues=queues, limits=limits, usage=usage, now=now)


def _read_starts(
    found: Mapping[tuple[str, str], Sequence[Candidate]],
    limits: Mapping[str, Limit],
    usage: Mapping[str, Usage],
    reader: ClaimReader,
) -> None:
    for type_, limited in limits.items():
        if limited.rate_count is None:
            continue
        keys = {j.limit_key for (_, t), jobs in found.items() if t == type_ for j in jobs}
        keys -= set(usage[type_].started)
        if keys:
            counts = reader.started(type_, keys)
            usage[type_].started.update({k: counts.get(k, 0) for k in keys})


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
            if _budget(limited, type_usage, job.limit_key) - spent <= 0:
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


def _budget(limited: Limit, usage: Usage, key: str | None) -> float:
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
