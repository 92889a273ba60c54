"""Requests about schedules (recurring jobs): define one, resume it, run it now, show it.

A definition is checked whole before anything is stored: its name, its timing
(:mod:`~noormme_queue.core.cron`) and missed-tick policy, and its job exactly as ``add_job``
checks one (:func:`~noormme_queue.engine.enqueue.build_job`: type, payload against the
handler's model when this process has the handler, every option). The checked job is the
template every tick stamps with an id, ``run_at`` (the tick) and the schedule's name.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Any

from ..core.clock import Clock
from ..core.cron import NEVER, Timing, check_missed, check_name, check_timing
from ..core.errors import InvalidJob, StoreError
from ..core.ids import new_job_id
from ..core.job import JSON, to_datetime
from ..core.options import JobOptions
from ..core.schedule import Schedule
from ..store import Fire, JobStore, NewJob, NewSchedule, StoredSchedule
from .binding import BoundHandler
from .enqueue import build_job, validate_type

RETRIES = 10  # reads again when a concurrent change spoils a compare-and-set
_NOT_OPTIONS = frozenset({"id", "type", "payload", "run_at", "created_at", "schedule"})


class Schedules:
    """The requests of ``QueueManager``'s schedule methods, over one store."""

    def __init__(
        self,
        store: JobStore,
        handlers: Mapping[str, BoundHandler],
        clock: Clock,
        max_payload_bytes: int,
        *,
        changed: Callable[[], None],
        enqueued: Callable[[Collection[str]], None],
    ) -> None:
        """``changed()`` wakes the local scheduler (a schedule was made or resumed);
        ``enqueued(types)`` wakes the local worker (a job was made by hand)."""
        self._store = store
        self._handlers = handlers
        self._clock = clock
        self._max_payload_bytes = max_payload_bytes
        self._changed = changed
        self._enqueued = enqueued

    async def define(
        self,
        name: object,
        job_type: object,
        payload: JSON,
        cron: object,
        every: object,
        timezone: object,
        missed: object,
        options: Mapping[str, Any],
    ) -> Schedule:
        """Check everything, then create the schedule or update the one with its name."""
        now = self._clock.now()
        stored = await define_schedule(
            self._store,
            name=name,
            job_type=job_type,
            payload=payload,
            cron=cron,
            every=every,
            timezone=timezone,
            missed=missed,
            options=JobOptions.from_mapping(options),
            handlers=self._handlers,
            now=now,
            max_payload_bytes=self._max_payload_bytes,
        )
        self._changed()
        return public_schedule(stored)

    async def delete(self, name: str) -> bool:
        return await self._store.delete_schedule(name)

    async def list(self) -> list[Schedule]:
        return [public_schedule(s) for s in await self._store.list_schedules()]

    async def get(self, name: str) -> Schedule | None:
        found = await self._store.get_schedule(name)
        return None if found is None else public_schedule(found)

    async def pause(self, name: str) -> bool:
        return await self._store.pause_schedule(name, now=self._clock.now())

    async def resume(self, name: str) -> bool:
        resumed = await resume_schedule(self._store, name, now=self._clock.now())
        self._changed()
        return resumed

    async def run_now(self, name: str) -> str | None:
        job_id = await run_schedule_now(self._store, name, now=self._clock.now())
        if job_id is not None:
            job = await self._store.get(job_id)
            self._enqueued([] if job is None else [job.type])
        return job_id


async def define_schedule(
    store: JobStore,
    *,
    name: object,
    job_type: object,
    payload: JSON,
    cron: object,
    every: object,
    timezone: object,
    missed: object,
    options: JobOptions,
    handlers: Mapping[str, BoundHandler],
    now: float,
    max_payload_bytes: int,
) -> StoredSchedule:
    """Check everything, then create the schedule or update the one with its name."""
    name = check_name(name)
    job_type = validate_type(job_type)
    timing = check_timing(cron, every, timezone, now=now)
    policy = check_missed(missed)
    if options.delay is not None:
        raise InvalidJob(
            "delay does not apply to a schedule: each job runs at its tick", field="delay"
        )
    if options.run_at is not None:
        raise InvalidJob(
            "run_at is set by each tick of a schedule; give cron= or every= instead",
            field="run_at",
        )
    job = build_job(
        job_type,
        payload,
        options,
        handler=handlers.get(job_type),
        now=now,
        max_payload_bytes=max_payload_bytes,
    )
    template = dataclasses.replace(job, id="", run_at=0.0, created_at=0.0)
    first = timing.next_after(now)
    assert first is not None  # check_timing saw a tick ahead
    new = NewSchedule(
        name, template, timing.cron, timing.every, timing.timezone, policy, next_run_at=first
    )
    return await store.save_schedule(new, now=now)


def timing_of(schedule: StoredSchedule) -> Timing:
    return Timing(schedule.cron, schedule.every, schedule.timezone)


def stamp(schedule: StoredSchedule, tick: float, now: float) -> NewJob:
    """The job ``schedule`` makes for ``tick``: due then, linked to the schedule."""
    return dataclasses.replace(
        schedule.job,
        id=new_job_id(),
        run_at=round(tick, 6),
        created_at=round(now, 6),
        schedule=schedule.name,
        by="schedule",
    )


async def resume_schedule(store: JobStore, name: str, *, now: float) -> bool:
    """Unpause ``name``: its next tick is the first after ``now`` (the ticks that passed
    while it was paused are skipped). ``False`` when no schedule has that name."""
    for _ in range(RETRIES):
        schedule = await store.get_schedule(name)
        if schedule is None:
            return False
        if not schedule.paused:
            return True
        after = timing_of(schedule).next_after(now)
        resumed = await store.resume_schedule(
            name,
            revision=schedule.revision,
            next_run_at=NEVER if after is None else after,
            now=now,
        )
        if resumed:
            return True
    raise StoreError(f"schedule {name!r} kept changing while being resumed; try again")


async def run_schedule_now(store: JobStore, name: str, *, now: float) -> str | None:
    """Make one job of ``name`` due now, besides its ticks (its next tick stays). The job's
    id (a live job's, when its unique key holds one); ``None`` when no schedule has that
    name."""
    for _ in range(RETRIES):
        schedule = await store.get_schedule(name)
        if schedule is None:
            return None
        job = stamp(schedule, now, now)
        fire = Fire(
            name, schedule.revision, schedule.next_run_at, schedule.next_run_at, now, (job,)
        )
        (ids,) = await store.fire_schedules([fire], now=now)
        if ids is not None:
            return ids[0]
    raise StoreError(f"schedule {name!r} kept changing while being run; try again")


def public_schedule(schedule: StoredSchedule) -> Schedule:
    """What ``list_schedules`` shows of a stored schedule."""
    job = schedule.job
    options = {k: v for k, v in dataclasses.asdict(job).items() if k not in _NOT_OPTIONS}
    if isinstance(options.get("retry_policy"), str):
        options["retry_policy"] = json.loads(options["retry_policy"])
    next_run_at = to_datetime(schedule.next_run_at)
    assert next_run_at is not None
    return Schedule(
        name=schedule.name,
        job_type=job.type,
        payload=json.loads(job.payload),
        cron=schedule.cron,
        every=None if schedule.every is None else timedelta(seconds=schedule.every),
        timezone=schedule.timezone,
        next_run_at=next_run_at,
        last_run_at=to_datetime(schedule.last_run_at),
        paused=schedule.paused,
        missed=schedule.missed,
        options=options,
        last_job_id=schedule.last_job_id,
        last_status=schedule.last_status,
        created_at=to_datetime(schedule.created_at),
        updated_at=to_datetime(schedule.updated_at),
    )
