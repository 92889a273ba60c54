"""``QueueManager``: the facade that wires config, store, worker and maintenance.

It validates requests and delegates: jobs run in ``engine/worker.py``, SQL lives in
``store/``, and each maintenance service (``engine/leases.py``, ``rescuer.py``,
``survey.py``, ``cleaner.py``, ``scheduler.py``) is a ``run_once(now)`` the manager only
runs in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, Unpack, overload

from .control import QueueControl
from .core.clock import SYSTEM_CLOCK, Clock
from .core.config import QueueConfig
from .core.events import check_actor
from .core.handler import HandlerLike
from .core.job import JSON
from .core.options import JobOptions
from .core.retry import RetryPolicy
from .core.routing import (
    DEFAULT_QUEUE,
    TypeDefinition,
    TypeLimits,
    check_concurrency_limit,
    check_queue_name,
    parse_rate_limit,
)
from .core.threads import run_sync
from .engine.binding import BoundHandler, LazyHandler
from .engine.cleaner import Cleaner
from .engine.enqueue import build_job, job_specs, validate_type
from .engine.heartbeat import Heartbeat
from .engine.leases import LeaseKeeper, renewal_period
from .engine.loops import Every, EveryInThread
from .engine.rescuer import Rescuer
from .engine.scheduler import Scheduler
from .engine.schedules import Schedules
from .engine.survey import TypeSurvey
from .engine.transaction import enqueue_through
from .engine.worker import Worker
from .handlers.catalog import BUILTIN_JOB_TYPES, BUILTIN_PROCESSOR_QUEUES
from .handlers.lazy import Lazy
from .memory import (
    MemoryQueues,
    create_builtin_queues,
)
from .memory_control import MemoryControl
from .schedules import ScheduleControl
from .store import JobStore, store_from_config
from .sync import SyncQueueManager
from .tasks import Task, TaskOptions, make_task
from .tracing import job_tracing, traced

if TYPE_CHECKING:
    from .store import NewJob

log = logging.getLogger("noormme_queue")

P = ParamSpec("P")
R = TypeVar("R")

JobSpec = tuple[str, JSON] | tuple[str, JSON, Mapping[str, Any]]
"""``(type, payload)`` or ``(type, payload, options)`` for ``add_jobs``."""


@dataclass(frozen=True, slots=True)
class StopReport:
    """What ``stop()`` did with unfinished work."""

    released: int
    """Persistent jobs put back to ``pending`` (attempt not spent) after the grace period."""
    memory_dropped: int = 0
    """In-memory items still queued when the grace period ended (lost, by design)."""


class QueueManager(QueueControl, ScheduleControl, MemoryControl):
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
        self.observers = self.worker.observers  # metrics, tracing (engine/observe.py)
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
            on_expired=self.observers.lease_expired,
        )
        self.survey = TypeSurvey(pending_types=store_.pending_types, handled=lambda: self._handlers)
        self.cleaner = Cleaner(
            purge=lambda before, limit: store_.purge(finished_before=before, limit=limit),
            forget_minutes=lambda before: store_.purge_minutes(before=before),
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
        self.heartbeat = Heartbeat.over(store_, self.worker, self.config, self.leases.run_once)
        self._lease_loop = EveryInThread("lease-keeper", period, self.heartbeat.keep, self.clock)
        self._loops = [
            Every("rescuer", period, self.rescuer.run_once, self.clock, at_start=True),
            Every("type survey", period, self.survey.run_once, self.clock, at_start=True),
            self._schedule_loop,
        ]
        if self.config.cleanup_interval > 0:
            interval = self.config.cleanup_interval
            self._loops.append(Every("cleanup", interval, self.cleaner.run_once, self.clock))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background_tasks: set[asyncio.Task[None]] = set()
        self._lifecycle = asyncio.Lock()
        self.memory = MemoryQueues(self.config)
        processors: dict[str, Any] = {}
        if builtins:
            self._register_builtins(processors)
        create_builtin_queues(self.memory, processors)
        self.sync = SyncQueueManager(self)
        self._tracing = job_tracing(self.observers)  # None without OpenTelemetry (tracing.py)

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
        provider = {
            "webhook": parse_rate_limit(config.webhook_rate_limit),
            "email": parse_rate_limit(config.email_rate_limit),
            "newsletter": parse_rate_limit(config.email_rate_limit),
        }
        for job_type in BUILTIN_JOB_TYPES:
            lazy = LazyHandler(lambda t=job_type: shared_handlers.get()[t])  # type: ignore[misc]
            limits = TypeLimits(rate=provider.get(job_type))
            self._handlers[job_type] = BoundHandler(job_type, lazy, limits=limits)
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
            await self._define_types(list(self._handlers.values()))
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
            if self._background_tasks:
                await asyncio.wait(set(self._background_tasks), timeout=grace or None)
            memory_stop = asyncio.create_task(self.memory.stop(grace))
            if self.worker.started:
                released = await self.worker.stop(grace)
            await run_sync(self._lease_loop.stop)  # after the worker: its leases held till now
            await self.heartbeat.stop()  # its row goes: a graceful stop
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

    def register_handler(
        self,
        job_type: str,
        handler: HandlerLike,
        *,
        queue: str | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | None = None,
    ) -> None:
        """Run jobs of ``job_type`` with ``handler`` (replacing any earlier one).

        ``queue``: where its jobs go unless ``add_job(queue=...)`` says otherwise (default
        ``"default"``). ``concurrency_limit``: at most that many of its jobs processing at
        once, across every worker; ``rate_limit`` (``"30/minute"``): at most that many
        starts in any such window, across every worker. With ``limit_key=`` on a job, both
        apply to each key on its own. The limits are stored in the database."""
        job_type = validate_type(job_type)
        limits = TypeLimits(
            check_concurrency_limit(concurrency_limit), parse_rate_limit(rate_limit)
        )
        bound = BoundHandler(
            job_type,
            handler,
            queue=DEFAULT_QUEUE if queue is None else check_queue_name(queue),
            limits=limits,
        )
        if job_type in self._handlers:
            log.info("handler for %r replaced", job_type)
        self._handlers[job_type] = bound
        if self._loop is not None:  # running: store the definition before claiming its jobs
            bound.ready = False
            task = self._loop.create_task(self._define_types([bound]))
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)
        else:
            self.worker.wake()

    async def _define_types(self, handlers: list[BoundHandler]) -> None:
        """Store what this process registered; report definitions another process made."""
        now, me = self.clock.now(), self.worker.worker_id
        definitions = [TypeDefinition(h.name, h.queue, h.limits, me, now) for h in handlers]
        try:
            replaced = await self.store.define_types(definitions)
        finally:
            for handler in handlers:
                handler.ready = True  # (if storing failed, claims go on under old definitions)
            self.worker.wake()
        mine = {d.type: d for d in definitions}
        for before in replaced:
            log.warning(
                "job type %r was defined by %s as queue=%s, %s; %s now defines it as "
                "queue=%s, %s: the new definition applies to every worker",
                before.type,
                before.defined_by,
                before.queue,
                before.limits.describe(),
                me,
                mine[before.type].queue,
                mine[before.type].limits.describe(),
            )

    @property
    def handlers(self) -> Mapping[str, BoundHandler]:
        return self._handlers

    @overload
    def task(self, func: Callable[P, R], /) -> Task[P, R]: ...
    @overload
    def task(self, /, **options: Unpack[TaskOptions]) -> Callable[[Callable[P, R]], Task[P, R]]: ...
    def task(self, func: Any = None, /, **options: Any) -> Any:
        """``@qm.task`` or ``@qm.task(name=..., queue=..., priority=..., ...)``: the function
        becomes a job type (see :mod:`noormme_queue.tasks`)."""
        if func is not None:
            return make_task(self, func, options)
        return lambda f: make_task(self, f, options)

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
        queue: str | None = None,
        limit_key: str | None = None,
        connection: Any = None,
        by: str | None = None,
    ) -> str:
        """Save a job and return its id (the existing job's id if ``unique_key`` matches).

        ``connection``: write it through this open connection to the queue's database, in
        the caller's transaction (see :meth:`enqueue_on`). ``by``: who enqueues (the first
        event of its timeline; ``python`` when not given)."""
        options = JobOptions(
            priority=priority,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
            retry_policy=retry_policy,
            unique_key=unique_key,
            timeout=timeout,
            queue=queue,
            limit_key=limit_key,
        )
        new_jobs = self.build_jobs([(job_type, payload, options)], by=by)
        if connection is not None:
            await self.store.open()
            return self.enqueue_on(connection, new_jobs)[0]
        return (await self.save_jobs(new_jobs))[0]

    async def add_jobs(
        self, jobs: Iterable[JobSpec], *, connection: Any = None, by: str | None = None
    ) -> list[str]:
        """Save many jobs in one transaction: all of them, or (on bad input) none."""
        new_jobs = self.build_jobs(job_specs(jobs), by=by)
        if connection is not None:
            await self.store.open()
            return self.enqueue_on(connection, new_jobs)
        return await self.save_jobs(new_jobs)

    def enqueue_on(self, connection: object, new_jobs: Sequence[NewJob]) -> list[str]:
        """Write jobs (from :meth:`build_jobs`) through the caller's open ``connection`` to
        the queue's database (a ``sqlite3.Connection`` on its file, a psycopg connection,
        Django's connection), inside the caller's transaction: rolled back, no job;
        committed, the workers see them. Runs on the calling thread; the store must be
        open."""
        types = {job.type for job in new_jobs}
        with traced(self._tracing, new_jobs) as new_jobs:
            ids = enqueue_through(self.store, connection, new_jobs, lambda: self._committed(types))
        self.survey.note_pending(types)
        return ids

    def notify_committed(self) -> None:
        """After committing jobs written through ``connection=``, wake the workers at once
        (without it they find them at their next poll)."""
        self._committed(set(self._handlers))

    def _committed(self, types: set[str]) -> None:
        self.store.notify_committed()
        if any(t in self._handlers for t in types):
            self.worker.wake()

    def build_jobs(
        self, specs: Sequence[tuple[str, JSON, JobOptions]], *, by: str | None = None
    ) -> list[NewJob]:
        """Check ``(type, payload, options)`` requests and give each its id, to save now
        (``add_job``) or later (:meth:`save_jobs`, e.g. when a transaction commits)."""
        now, actor = self.clock.now(), check_actor(by)
        return [
            build_job(
                job_type,
                payload,
                options,
                handler=self._handlers.get(job_type),
                now=now,
                max_payload_bytes=self.config.max_payload_bytes,
                by=actor,
            )
            for job_type, payload, options in specs
        ]

    async def save_jobs(self, new_jobs: Sequence[NewJob]) -> list[str]:
        """Write jobs from :meth:`build_jobs` in one transaction and wake the workers."""
        if not new_jobs:
            return []
        with traced(self._tracing, new_jobs) as new_jobs:
            ids = await self.store.enqueue(new_jobs)
        self._enqueued({job.type for job in new_jobs})
        return ids

    def _enqueued(self, types: Collection[str]) -> None:
        if any(t in self._handlers for t in types):
            self.worker.wake()
        self.survey.note_pending(types)


_instance: QueueManager | None = None
_instance_lock = threading.Lock()


def get_queue_manager() -> QueueManager:
    """The process-wide manager, configured from the environment on first use."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = QueueManager(QueueConfig.from_env())
        return _instance
