"""Recurring jobs, the part of :class:`~noormme_queue.QueueManager` that defines and steers
schedules: define, remove, list, pause, resume and run now. It delegates to
``engine/schedules.py`` (the requests) over the store; ``engine/scheduler.py`` fires the
ticks in every worker process (docs/schedules.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Unpack

from .core.job import JSON
from .core.options import AddJobOptions
from .core.schedule import Schedule
from .engine.schedules import Schedules


class ScheduleControl:
    schedules: Schedules

    async def schedule(
        self,
        name: str,
        job_type: str,
        payload: JSON = None,
        *,
        cron: str | None = None,
        every: float | timedelta | None = None,
        timezone: str = "UTC",
        missed: str = "latest",
        **options: Unpack[AddJobOptions],
    ) -> Schedule:
        """One job per tick of ``cron`` (in ``timezone``) or ``every`` (seconds, timedelta),
        exactly once across all processes, with ``add_job``'s options (``queue=`` and
        ``limit_key=`` too); ``missed``: ``latest``, ``all`` or ``none``. The same name again
        updates it in place (docs/schedules.md)."""
        timing = (cron, every, timezone, missed)
        return await self.schedules.define(name, job_type, payload, *timing, options)

    async def unschedule(self, name: str) -> bool:
        """Remove a schedule (the jobs it made stay); ``False`` if none has that name."""
        return await self.schedules.delete(name)

    async def list_schedules(self) -> list[Schedule]:
        return await self.schedules.list()

    async def get_schedule(self, name: str) -> Schedule | None:
        return await self.schedules.get(name)

    async def pause_schedule(self, name: str) -> bool:
        """No more ticks, in any process, until resumed; ``False`` if none has that name."""
        return await self.schedules.pause(name)

    async def resume_schedule(self, name: str) -> bool:
        """Tick again from the next tick on (those that passed while paused are skipped)."""
        return await self.schedules.resume(name)

    async def run_schedule_now(self, name: str) -> str | None:
        """One job of the schedule, due now (its ticks go on); ``None`` if none has that name."""
        return await self.schedules.run_now(name)
