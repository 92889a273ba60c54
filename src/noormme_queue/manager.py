"""``QueueManager``: the facade that wires config, store, worker and maintenance.

It validates requests and delegates: jobs run in ``engine/worker.py``, SQL lives in
``store/``, and each maintenance service (``engine/leases.py``, ``rescuer.py``,
``survey.py``, ``cleaner.py``, ``scheduler.py``) is a ``run_once(now)`` the manager only
runs in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from .core.clock import SYSTEM_CLOCK, Clock
from .core.config import QueueConfig
from .core.errors import InvalidJob
from .core.handler import HandlerLike
from .core.job import JSON, Job, JobStatus, QueueStats, QueueStatus, ThroughputPoint, to_datetime
from .core.options import AddJobOptions, JobOptions
from .core.retry import RetryPolicy
from .core.schedule import Schedule
from .core.threads import run_sync
from .engine.binding import BoundHandler, LazyHandler
from .engine.cleaner import Cleaner
from .engine.enqueue import build_job, validate_type
from .engine.leases import LeaseKeeper, renewal_period
from .engine.loops import Every, EveryInThread
from .engine.rescuer import Rescuer
from .engine.scheduler import Scheduler
from .engine.schedules import Schedules
from .engine.survey import TypeSurvey
from .engine.worker import Worker
from .handlers.catalog import BUILTIN_JOB_TYPES, BUILTIN_PROCESSOR_QUEUES
from .handlers.lazy import Lazy
from .memory import (
    BatchQueue,
    InMemoryQueue,
    MemoryQueue,
    MemoryQueues,
    RateLimitedQueue,
    create_builtin_queues,
)
from .store import JobStore, store_from_config
from .sync import SyncQueueManager

log = logging.getLogger("noormme_queue")

JobSpec = tuple[str, JSON] | tuple[str, JSON, Mapping[str, Any]]
"""``(type, payload)`` or ``(type, payload, options)`` for ``add_jobs``."""


@dataclass(frozen=True, slots=True)
class StopReport:
    """What ``stop()`` did with unfinished work."""

    released: int
    """Persistent jobs put back to ``pending`` (attempt not spent) after the grace period."""
    memory_dropped: int = 0
    """In-memory items still queued when the grace period ended (lost, by design)."""


class QueueManager:
    """One process's view of the queue: enqueue, control, monitor, and run a worker."""

    def __init__(
        self,
        config: QueueConfig | None = None,
        *,
        store: JobStore | None = None,
        clock: Clock | None = None,
        worker_id: str | None = None,
        builtins: bool = True,
        background: bool = True,
    ) -> None:
        """``builtins=False`` leaves out the built-in job handlers and in-memory processors
        (the built-in queues still exist, without processors). ``background=False`` runs
        no maintenance loop (lease renewal, rescue, type survey, cleanup): tests then call
        ``qm.leases``, ``qm.rescuer``, ``qm.survey`` and ``qm.cleaner``'s ``run_once(now)``."""
        self.config = config if config is not None else QueueConfig.from_env()
        self.clock = clock or SYSTEM_CLOCK
        self.store = store if store is not None else store_from_config(self.config)
        self._handlers: dict[str, BoundHandler] = {}
        self.worker = Worker(
            self.store, self._handlers, self.config, self.clock, worker_id=worker_id
        )
        store_ = self.store
        self.leases = LeaseKeeper(
            held=self.worker.held_leases,
            extend=store_.extend_leases,
            on_lost=self.worker.leases_lost,
            lease_timeout=self.config.lease_timeout,
        )
        self.rescuer = Rescuer(
            expired=lambda now, limit: store_.expired_leases(now=now, limit=limit),
            settle=lambda outcomes, now: store_.settle(outcomes, now=now),
            on_failed=self.worker.hooks.failed_for_good,
            on_recovered=self.worker.wake,
        )
        self.survey = TypeSurvey(pending_types=store_.pending_types, handled=lambda: self._handlers)
        self.cleaner = Cleaner(
            purge=lambda before, limit: store_.purge(finished_before=before, limit=limit),
            older_than_days=self.config.cleanup_days,
        )
        self.scheduler = Scheduler.over(store_, self._enqueued, poll=self.config.interval)
        self._schedule_loop = self.scheduler.loop(self.config.interval, self.clock)
        self.schedules = Schedules(
            store_,
            self._handlers,
            self.clock,
            self.config.max_payload_bytes,
            changed=self._schedule_loop.wake,
            enqueued=self._enqueued,
        )
        self._background = background
        period = renewal_period(self.config.lease_timeout)
        self._lease_loop = EveryInThread("lease-keeper", period, self.leases.run_once, self.clock)
        self._loops = [
            Every("rescuer", period, self.rescuer.run_once, self.clock, at_start=True),
            Every("type survey", period, self.survey.run_once, self.clock, at_start=True),
            self._schedule_loop,
        ]
        if self.config.cleanup_interval > 0:
            interval = self.config.cleanup_interval
            self._loops.append(Every("cleanup", interval, self.cleaner.run_once, self.clock))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lifecycle = asyncio.Lock()
        self.memory = MemoryQueues(self.config)
        processors: dict[str, Any] = {}
        if builtins:
            self._register_builtins(processors)
        create_builtin_queues(self.memory, processors)
        self.sync = SyncQueueManager(self)

    def _register_builtins(self, processors: dict[str, Any]) -> None:
        """Built-in job handlers and in-memory processors, built on first use."""
        config = self.config

        def handlers() -> dict[str, Any]:
            from .handlers.builtin import build_builtin_handlers

            return build_builtin_handlers(config)

        def queue_processors() -> dict[str, Any]:
            from .handlers.builtin import build_builtin_processors

            return dict(build_builtin_processors(config))

        shared_handlers = Lazy(handlers)
        shared_processors = Lazy(queue_processors)
        for job_type in BUILTIN_JOB_TYPES:
            lazy = LazyHandler(lambda t=job_type: shared_handlers.get()[t])  # type: ignore[misc]
            self._handlers[job_type] = BoundHandler(job_type, lazy)
        for name in BUILTIN_PROCESSOR_QUEUES:

            async def process(payload: Any, _name: str = name) -> Any:
                return await shared_processors.get()[_name](payload)

            processors[name] = process

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the manager was started on, while it runs."""
        return self._loop

    async def start(self) -> None:
        """Open the store and start the worker and the maintenance loops. Idempotent."""
        async with self._lifecycle:
            if self._loop is not None:
                return
            await self.store.open()
            self._loop = asyncio.get_running_loop()
            self.memory.attach()
            await self.worker.start()
            if self._background:
                self._lease_loop.start()
                for loop in self._loops:
                    loop.start()
            log.info(
                "queue started: worker %s, %s, concurrency %d, handlers: %s",
                self.worker.worker_id,
                self.store.description,
                self.config.concurrency,
                ", ".join(sorted(self._handlers)) or "none",
            )

    async def stop(self, timeout: float | None = None) -> StopReport:
        """Graceful stop: claim nothing new, let in-flight jobs finish for ``timeout`` seconds
        (default ``QUEUE_SHUTDOWN_TIMEOUT``), put the unfinished back to ``pending`` without
        spending an attempt, then close the store. :meth:`force_stop` ends the grace early."""
        grace = self.config.shutdown_timeout if timeout is None else timeout
        async with self._lifecycle:
            released = 0
            for loop in self._loops:
                await loop.stop()
            memory_stop = asyncio.create_task(self.memory.stop(grace))
            if self.worker.started:
                released = await self.worker.stop(grace)
            await run_sync(self._lease_loop.stop)  # after the worker: its leases held till now
            dropped = await memory_stop
            self._loop = None
            await self.store.close()
            return StopReport(released=released, memory_dropped=dropped)

    def force_stop(self) -> None:
        """End the grace period of a stop under way (a second Ctrl+C): unfinished jobs go
        back to ``pending`` at once, hooks still running are abandoned, and in-memory queues
        drop what they hold."""
        self.worker.force_stop()
        self.memory.force_stop()

    async def __aenter__(self) -> QueueManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handlers --------------------------------------------------------------------------------

    def register_handler(self, job_type: str, handler: HandlerLike) -> None:
        """Run jobs of ``job_type`` with ``handler`` (replacing any earlier one)."""
        job_type = validate_type(job_type)
        bound = BoundHandler(job_type, handler)
        if job_type in self._handlers:
            log.info("handler for %r replaced", job_type)
        self._handlers[job_type] = bound
        self.worker.wake()

    @property
    def handlers(self) -> Mapping[str, BoundHandler]:
        return self._handlers

    # -- enqueue -------------------------------------------------------------------------------

    async def add_job(
        self,
        job_type: str,
        payload: JSON = None,
        *,
        priority: int = 0,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        retry_policy: RetryPolicy | Mapping[str, Any] | None = None,
        unique_key: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Save a job and return its id (the existing job's id if ``unique_key`` matches)."""
        options = JobOptions(
            priority=priority,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
            retry_policy=retry_policy,
            unique_key=unique_key,
            timeout=timeout,
        )
        return (await self._enqueue([(job_type, payload, options)]))[0]

    async def add_jobs(self, jobs: Iterable[JobSpec]) -> list[str]:
        """Save many jobs in one transaction: all of them, or (on bad input) none."""
        specs: list[tuple[str, JSON, JobOptions]] = []
        for index, spec in enumerate(jobs):
            if not isinstance(spec, tuple) or len(spec) not in (2, 3):
                raise InvalidJob(
                    f"jobs[{index}] must be (type, payload) or "
                    f"(type, payload, options), got {spec!r}"
                )
            options = JobOptions.from_mapping(spec[2]) if len(spec) == 3 else JobOptions()
            specs.append((spec[0], spec[1], options))
        return await self._enqueue(specs)

    async def _enqueue(self, specs: Sequence[tuple[str, JSON, JobOptions]]) -> list[str]:
        now = self.clock.now()
        new_jobs = [
            build_job(
                job_type,
                payload,
                options,
                handler=self._handlers.get(job_type),
                now=now,
                max_payload_bytes=self.config.max_payload_bytes,
            )
            for job_type, payload, options in specs
        ]
        if not new_jobs:
            return []
        ids = await self.store.enqueue(new_jobs)
        self._enqueued({job.type for job in new_jobs})
        return ids

    def _enqueued(self, types: Collection[str]) -> None:
        if any(t in self._handlers for t in types):
            self.worker.wake()
        self.survey.note_pending(types)

    # -- recurring jobs (engine/scheduler.py runs them; see docs/schedules.md) ----------------

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
        exactly once across all processes, with ``add_job``'s options; ``missed``: ``latest``,
        ``all`` or ``none``. The same name again updates it in place (docs/schedules.md)."""
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

    # -- tier 1: in-memory queues ----------------------------------------------------------------

    def get_in_memory_queue(self, name: str) -> MemoryQueue:
        """A queue by name (the built-ins: ``api-calls``, ``image-processing``, ``email-sending``,
        ``webhook-delivery``, ``batch-processing``); unknown names raise ``UnknownQueue``."""
        return self.memory.get(name)

    def create_in_memory_queue(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        max_size: int | None = None,
    ) -> InMemoryQueue[Any, Any]:
        """A new queue; ``None`` takes the ``QUEUE_IN_MEMORY_*`` default, ``0`` turns pacing or
        the timeout off."""
        queue = self.memory.create(
            name, concurrency=concurrency, interval=interval, timeout=timeout, max_size=max_size
        )
        self._attach_if_running(queue)
        return queue

    def create_rate_limited_queue(
        self, name: str, per_minute: int, *, burst: int | None = None
    ) -> RateLimitedQueue[Any, Any]:
        """At most ``per_minute`` job starts in any 60-second window."""
        queue = self.memory.create_rate_limited(name, per_minute, burst=burst)
        self._attach_if_running(queue)
        return queue

    def create_batch_queue(self, name: str, size: int, max_wait: float) -> BatchQueue[Any, Any]:
        """Items are processed in lists: at ``size`` items or ``max_wait`` seconds after the
        first, whichever comes first."""
        queue = self.memory.create_batch(name, size, max_wait)
        self._attach_if_running(queue)
        return queue

    def get_all_in_memory_stats(self) -> dict[str, dict[str, Any]]:
        return self.memory.all_stats()

    def _attach_if_running(self, queue: MemoryQueue) -> None:
        if self._loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                return
            if running is self._loop:
                queue.attach()

    # -- control and monitoring ----------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job | None:
        return await self.store.get(job_id)

    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending or processing job (a running handler is cancelled too).

        ``False`` when the id is unknown or the job already finished.
        """
        before = await self.store.cancel(job_id, now=self.clock.now())
        if before is JobStatus.PROCESSING:
            self.worker.cancel_soon(job_id)
        return before is not None

    async def retry_job(self, job_id: str) -> bool:
        """Failed or cancelled -> pending, to run now with its attempts reset."""
        retried = await self.store.retry(job_id, now=self.clock.now())
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
    ) -> list[Job]:
        """Jobs newest first, filtered; ``before`` pages on from the last id seen."""
        parsed = None if status is None else JobStatus.parse(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidJob(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        return await self.store.list_jobs(status=parsed, type=type, limit=limit, before=before)

    async def get_stats(self) -> QueueStats:
        return await self.store.stats()

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


_instance: QueueManager | None = None
_instance_lock = threading.Lock()


def get_queue_manager() -> QueueManager:
    """The process-wide manager, configured from the environment on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = QueueManager(QueueConfig.from_env())
        return _instance
