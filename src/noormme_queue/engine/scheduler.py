"""The scheduler: recurring jobs, one job per tick, exactly once across every process.

Every worker process runs one (``QueueManager`` starts it with the worker): there is no
separate beat process to forget, and no leader to elect. :meth:`Scheduler.run_once` asks
the store for the unpaused schedules whose next tick came due, plans each
(:func:`~noormme_queue.core.cron.plan` applies its missed-tick policy), stamps one job per
tick from the schedule's template (``run_at`` = the tick, ``schedule`` = its name) and
fires them. A fire is a compare-and-set on the schedule's revision and next tick in the
transaction that writes its jobs, so when several processes reach the same tick, one
writes its job and the others find the tick taken and write nothing.

Between passes its loop (``engine/loops.py: Every``) sleeps until the earliest next tick
(:attr:`Scheduler.next_at`), or one poll interval when that is later, so schedules made in
other processes are seen; a schedule made or changed in this process wakes it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from ..core.clock import Clock
from ..core.cron import plan
from ..store import Fire, JobStore, StoredSchedule
from .loops import Every
from .schedules import stamp, timing_of

log = logging.getLogger("noormme_queue.scheduler")

BATCH = 100
"""Due schedules read at once."""
MAX_TICKS = 100
"""Ticks of one schedule planned in one fire (``missed="all"`` catches up in several)."""
ROUNDS = 10
"""Reads of due schedules in one pass; what is left is taken by the next pass at once."""
MIN_GRACE = 10.0
"""Seconds after its time a tick still counts as on time (the loop's wake-up latency)."""


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    fired: int
    """Schedules whose due ticks this pass claimed."""
    jobs: int
    """Jobs written for them."""
    lost: int
    """Fires another process (or a change to the schedule) got to first."""
    next_at: float | None
    """The earliest next tick of any unpaused schedule."""


class Scheduler:
    def __init__(
        self,
        *,
        due: Callable[[float, int], Awaitable[list[StoredSchedule]]],
        fire: Callable[[Sequence[Fire], float], Awaitable[list[list[str] | None]]],
        next_at: Callable[[], Awaitable[float | None]],
        on_enqueued: Callable[[Collection[str]], None],
        grace: float = MIN_GRACE,
    ) -> None:
        """``due(now, limit)``, ``fire(fires, now)`` and ``next_at()`` are the store's;
        ``on_enqueued(types)`` wakes the local worker for the jobs just written. A tick
        reached more than ``grace`` seconds after its time was missed."""
        self._due = due
        self._fire = fire
        self._next_at = next_at
        self._on_enqueued = on_enqueued
        self.grace = grace
        self.next_at: float | None = None
        """The earliest next tick seen by the last pass (what the loop sleeps until)."""

    @classmethod
    def over(
        cls, store: JobStore, on_enqueued: Callable[[Collection[str]], None], *, poll: float
    ) -> Scheduler:
        """The scheduler of ``store``'s schedules, for a process polling every ``poll`` s
        (a tick is on time within ``MIN_GRACE`` or two polls, whichever is longer)."""
        return cls(
            due=lambda now, limit: store.due_schedules(now=now, limit=limit),
            fire=lambda fires, now: store.fire_schedules(fires, now=now),
            next_at=store.next_schedule_at,
            on_enqueued=on_enqueued,
            grace=max(MIN_GRACE, 2 * poll),
        )

    def loop(self, poll: float, clock: Clock) -> Every:
        """The thin loop around :meth:`run_once`: at start, then at each next tick, or
        every ``poll`` seconds when that comes first; ``wake()`` it after a change."""
        return Every("scheduler", poll, self.run_once, clock, at_start=True, until=self._next)

    def _next(self) -> float | None:
        return self.next_at

    async def run_once(self, now: float) -> SchedulerReport:
        fired = jobs = lost = 0
        broken = False
        for _ in range(ROUNDS):
            found = await self._due(now, BATCH)
            planned = [(s, p) for s in found if (p := self._plan(s, now)) is not None]
            broken = broken or len(planned) < len(found)
            if not planned:
                break
            results = await self._fire([one for _, (one, _) in planned], now)
            types: set[str] = set()
            for (schedule, (one, skipped)), ids in zip(planned, results, strict=True):
                if ids is None:
                    lost += 1
                    continue
                fired += 1
                jobs += len(ids)
                if one.jobs:
                    types.add(schedule.job.type)
                if skipped:
                    log.warning(
                        "schedule %r: ticks missed while no worker ran were skipped (missed=%r)",
                        schedule.name,
                        schedule.missed,
                    )
            if types:
                self._on_enqueued(types)
            if (
                len(found) < BATCH
                and lost == 0
                and all(one.new_next_run_at > now for _, (one, _) in planned)
            ):
                break
        self.next_at = await self._next_at()
        if broken and self.next_at is not None and self.next_at <= now:
            self.next_at = None  # what cannot be planned waits for the next poll, not a spin
        return SchedulerReport(fired, jobs, lost, self.next_at)

    def _plan(self, schedule: StoredSchedule, now: float) -> tuple[Fire, bool] | None:
        """The fire for ``schedule``'s due ticks, and whether missed ticks were dropped."""
        try:
            planned = plan(
                timing_of(schedule),
                schedule.next_run_at,
                now,
                missed=schedule.missed,
                grace=self.grace,
                limit=MAX_TICKS,
            )
        except Exception:  # a definition this version cannot read: the others go on
            log.exception("schedule %r cannot be planned; it is left as it is", schedule.name)
            return None
        fire = Fire(
            schedule.name,
            schedule.revision,
            schedule.next_run_at,
            planned.next_run_at,
            planned.ticks[-1] if planned.ticks else None,
            tuple(stamp(schedule, tick, now) for tick in planned.ticks),
        )
        return fire, planned.skipped
