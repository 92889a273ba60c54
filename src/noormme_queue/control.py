"""Control and monitoring, the part of :class:`~noormme_queue.QueueManager` that looks at
and steers jobs and queues: lookups, cancel and retry, listings, counts, throughput,
status, cleanup, and pausing queues. It delegates to the store and the engine."""

from __future__ import annotations

import math
from collections.abc import Callable

from .core.clock import Clock
from .core.config import QueueConfig
from .core.errors import InvalidJob
from .core.events import EVENTS_LIMIT, JobEvent, check_actor
from .core.health import STUCK_MARGIN, DoctorReport, assess
from .core.job import (
    Job,
    JobStatus,
    QueueInfo,
    QueueStats,
    QueueStatus,
    ThroughputPoint,
    to_datetime,
)
from .core.routing import TypeDefinition, check_queue_name
from .core.workers import ActivityPoint, QueueActivity, WorkerInfo
from .engine.binding import BoundHandler
from .engine.cleaner import Cleaner
from .engine.survey import TypeSurvey
from .engine.worker import Worker
from .memory import MemoryQueues
from .store import JobStore, MinuteActivity
from .store.presence import STUCK_SAMPLE


class QueueControl:
    config: QueueConfig
    clock: Clock
    store: JobStore
    worker: Worker
    survey: TypeSurvey
    cleaner: Cleaner
    memory: MemoryQueues
    _handlers: dict[str, BoundHandler]

    async def get_job(self, job_id: str) -> Job | None:
        return await self.store.get(job_id)

    async def get_job_events(self, job_id: str, *, limit: int = EVENTS_LIMIT) -> list[JobEvent]:
        """The job's timeline, oldest first (its first ``limit`` events): enqueued, claimed,
        failed, retry scheduled, lease expired, completed, cancelled, retried, with the
        worker and who asked. Empty for an unknown id."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidJob(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        return await self.store.job_events(job_id, limit=limit)

    async def cancel_job(self, job_id: str, *, by: str | None = None) -> bool:
        """Cancel a pending or processing job (a running handler is cancelled too).

        ``False`` when the id is unknown or the job already finished. ``by``: who asks (its
        timeline's event; ``python`` when not given).
        """
        actor = check_actor(by)
        before = await self.store.cancel(job_id, now=self.clock.now(), by=actor)
        if before is JobStatus.PROCESSING:
            self.worker.cancel_soon(job_id)
        return before is not None

    async def retry_job(self, job_id: str, *, by: str | None = None) -> bool:
        """Failed or cancelled -> pending, to run now with its attempts reset; ``by`` as
        for :meth:`cancel_job`."""
        retried = await self.store.retry(job_id, now=self.clock.now(), by=check_actor(by))
        if retried:
            self.worker.wake()
        return retried

    async def get_jobs_by_status(self, status: str | JobStatus, limit: int = 10) -> list[Job]:
        return await self.list_jobs(status=status, limit=limit)

    async def list_jobs(
        self,
        *,
        status: str | JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """Jobs newest first, filtered; ``before`` pages on from the last id seen."""
        parsed = None if status is None else JobStatus.parse(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidJob(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        if queue is not None:
            check_queue_name(queue)
        return await self.store.list_jobs(
            status=parsed, type=type, limit=limit, before=before, queue=queue
        )

    async def get_stats(self, queue: str | None = None) -> QueueStats:
        """Jobs by status, from the kept counts (cheap at any size); with ``queue``, of that
        queue only (a queue nobody used: all zeros)."""
        return await self.store.stats(None if queue is None else check_queue_name(queue))

    async def get_throughput(
        self, window: float = 1800.0, bucket: float = 60.0
    ) -> list[ThroughputPoint]:
        """Jobs completed and failed per ``bucket`` seconds over the last ``window`` seconds,
        oldest first, one point per bucket (empty buckets included); the last is the current,
        partly elapsed one."""
        if not (0 < bucket <= window <= 86_400 * 31) or window / bucket > 10_000:
            raise InvalidJob(
                f"throughput window and bucket must satisfy 0 < bucket <= window <= 31 days "
                f"with at most 10000 buckets, got window={window!r}, bucket={bucket!r}"
            )
        count = math.ceil(window / bucket)
        # Buckets line up with multiples of `bucket`, so successive polls see the same ones.
        since = (math.floor(self.clock.now() / bucket) - count + 1) * bucket
        found = {c.bucket: c for c in await self.store.finished_counts(since=since, width=bucket)}
        points = []
        for index in range(count):
            c = found.get(index)
            start = to_datetime(since + index * bucket)
            assert start is not None
            points.append(ThroughputPoint(start, c.completed if c else 0, c.failed if c else 0))
        return points

    def get_status(self) -> QueueStatus:
        return QueueStatus(
            started=self.worker.started,
            worker_id=self.worker.worker_id,
            concurrency=self.config.concurrency,
            in_flight=self.worker.in_flight,
            registered_types=tuple(sorted(self._handlers)),
            unhandled_types=self.survey.unhandled,
            memory_queues=tuple(self.memory.names()),
            database=self.store.description,
        )

    async def cleanup(
        self, older_than_days: float | None = None, *, on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Delete completed and cancelled jobs older than ``older_than_days``
        (default ``QUEUE_CLEANUP_DAYS``); failed jobs stay as the dead-letter record."""
        if older_than_days is not None and (
            isinstance(older_than_days, bool)
            or not isinstance(older_than_days, int | float)
            or older_than_days < 0
        ):
            raise InvalidJob(f"older_than_days must be a number >= 0, got {older_than_days!r}")
        return await self.cleaner.run_once(self.clock.now(), older_than_days, on_batch)

    # -- queues ----------------------------------------------------------------------------

    async def pause_queue(self, name: str) -> bool:
        """Stop every worker from starting jobs of queue ``name`` (stored: each obeys at its
        next claim). Its jobs stay ``pending`` and spend no attempt. ``False`` if it was
        paused already."""
        return await self.store.set_paused(check_queue_name(name), True, now=self.clock.now())

    async def resume_queue(self, name: str) -> bool:
        """Let workers take jobs of ``name`` again (they are woken at once where the wake-up
        channel reaches). ``False`` if it was not paused."""
        resumed = await self.store.set_paused(check_queue_name(name), False, now=self.clock.now())
        if resumed:
            self.worker.wake()
        return resumed

    async def list_queues(self) -> list[QueueInfo]:
        """Every queue with jobs, paused, or with a type registered for it by any worker."""
        return await self.store.queues()

    async def list_types(self) -> list[TypeDefinition]:
        """The job types workers registered (in any process): their queue and limits."""
        return await self.store.type_definitions()

    # -- workers, activity, health ---------------------------------------------------------

    async def list_workers(self) -> list[WorkerInfo]:
        """Every live worker, in any process or machine, by id: the ones whose last
        heartbeat is younger than its time to live (``engine/heartbeat.py``: ``WORKER_TTL``)."""
        return await self.store.workers(now=self.clock.now())

    async def get_activity(self, window: float = 3600.0) -> list[QueueActivity]:
        """Each queue active in the last ``window`` seconds (whole minutes, the current,
        partly elapsed one last), by name: per minute, jobs completed, failed for good and
        started, and the wait of the started ones from due to start. Read from kept
        counts: minutes x queues rows, whatever the number of jobs."""
        if (
            isinstance(window, bool)
            or not isinstance(window, int | float)
            or not 60 <= window <= 86_400
        ):
            raise InvalidJob(f"activity window must be 60 to 86400 seconds, got {window!r}")
        last = math.floor(self.clock.now() / 60)
        first = last - math.ceil(window / 60) + 1
        by_queue: dict[str, dict[int, MinuteActivity]] = {}
        for row in await self.store.activity(since=first * 60):
            by_queue.setdefault(row.queue, {})[row.minute] = row
        minutes = range(first, last + 1)
        return [
            QueueActivity(queue, tuple(_point(m, by_queue[queue].get(m)) for m in minutes))
            for queue in sorted(by_queue)
        ]

    async def doctor(self) -> DoctorReport:
        """Check the store and the workers (``noormme-queue doctor``): one check per line,
        each healthy or a problem (see docs/workers-and-doctor.md)."""
        now = self.clock.now()
        health = await self.store.health(stuck_before=now - STUCK_MARGIN, limit=STUCK_SAMPLE)
        return assess(health, await self.store.workers(now=now), now=self.clock.now())


def _point(minute: int, row: MinuteActivity | None) -> ActivityPoint:
    start = to_datetime(minute * 60.0)
    assert start is not None
    if row is None:
        return ActivityPoint(start)
    wait = (row.wait_sum / row.started, row.wait_max) if row.started else (None, None)
    return ActivityPoint(start, row.completed, row.failed, row.started, *wait)
