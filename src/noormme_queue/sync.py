"""The synchronous face of :class:`~noormme_queue.QueueManager`, for WSGI code and scripts.

Every method runs the async method of the same name to completion and returns
its result; there is no second implementation. When the manager was started
on an event loop (say, a worker in this process), calls go to that loop;
otherwise they go to a private loop in a background thread (the "portal"),
so a Django or Flask view can enqueue without any loop of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, Unpack

from .core.events import EVENTS_LIMIT, JobEvent
from .core.health import DoctorReport
from .core.job import JSON, Job, JobStatus, QueueInfo, QueueStats, QueueStatus, ThroughputPoint
from .core.options import AddJobOptions, JobOptions
from .core.routing import TypeDefinition
from .core.schedule import Schedule
from .core.workers import QueueActivity, WorkerInfo
from .engine.enqueue import job_specs

if TYPE_CHECKING:
    from .manager import JobSpec, QueueManager, StopReport
    from .memory import MemoryQueue, MemoryQueueStats
    from .store import NewJob
    from .tasks import Task

T = TypeVar("T")
P = ParamSpec("P")


class SyncQueueManager:
    def __init__(self, manager: QueueManager) -> None:
        self._manager = manager
        self._portal: asyncio.AbstractEventLoop | None = None
        self._portal_thread: threading.Thread | None = None
        self._portal_lock = threading.Lock()

    def _call(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        target = self._manager.loop
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is not None and (target is None or current is target):
            raise RuntimeError(
                "qm.sync.* blocks until done, so it cannot run inside an event loop; "
                "await the async method of the same name instead"
            )
        if target is None or not target.is_running():
            target = self._portal_loop()
        return asyncio.run_coroutine_threadsafe(factory(), target).result()

    def _portal_loop(self) -> asyncio.AbstractEventLoop:
        with self._portal_lock:
            if self._portal is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="noormme-queue-sync", daemon=True
                )
                thread.start()
                self._portal, self._portal_thread = loop, thread
            return self._portal

    def close(self) -> None:
        """Stop the manager if this face started it, and end the background loop."""
        with self._portal_lock:
            loop, thread = self._portal, self._portal_thread
            self._portal = self._portal_thread = None
        if loop is None or thread is None:
            return
        manager_loop = self._manager.loop
        if manager_loop is None or manager_loop is loop:
            # Started here (or never): stop it here. A manager running on another loop is
            # that loop's to stop.
            asyncio.run_coroutine_threadsafe(self._manager.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    # -- the same methods as QueueManager ------------------------------------------------------

    def start(self) -> None:
        """Start the worker on the background loop (for a WSGI process that runs jobs too)."""
        manager = self._manager
        if manager.loop is not None:
            return
        asyncio.run_coroutine_threadsafe(manager.start(), self._portal_loop()).result()

    def stop(self, timeout: float | None = None) -> StopReport:
        return self._call(lambda: self._manager.stop(timeout))

    def add_job(
        self,
        job_type: str,
        payload: JSON = None,
        *,
        connection: Any = None,
        by: str | None = None,
        **options: Unpack[AddJobOptions],
    ) -> str:
        """See :meth:`QueueManager.add_job` for the options. With ``connection``, the job is
        written here, on the calling thread, through that connection and in its
        transaction."""
        if connection is not None:
            specs = [(job_type, payload, JobOptions(**options))]
            return self.enqueue_on(connection, self._manager.build_jobs(specs, by=by))[0]
        return self._call(lambda: self._manager.add_job(job_type, payload, by=by, **options))

    def add_jobs(
        self, jobs: Iterable[JobSpec], *, connection: Any = None, by: str | None = None
    ) -> list[str]:
        specs = list(jobs)
        if connection is not None:
            return self.enqueue_on(connection, self._manager.build_jobs(job_specs(specs), by=by))
        return self._call(lambda: self._manager.add_jobs(specs, by=by))

    def enqueue_on(self, connection: object, new_jobs: Sequence[NewJob]) -> list[str]:
        """See :meth:`QueueManager.enqueue_on`: here, on the calling thread (where the
        caller's connection lives), the store opened first."""
        self._call(self._manager.store.open)
        return self._manager.enqueue_on(connection, new_jobs)

    def save_jobs(self, new_jobs: Sequence[NewJob]) -> list[str]:
        """See :meth:`QueueManager.save_jobs`."""
        return self._call(lambda: self._manager.save_jobs(new_jobs))

    def notify_committed(self) -> None:
        """See :meth:`QueueManager.notify_committed`."""
        self._manager.notify_committed()

    def get_job(self, job_id: str) -> Job | None:
        return self._call(lambda: self._manager.get_job(job_id))

    def get_job_events(self, job_id: str, *, limit: int = EVENTS_LIMIT) -> list[JobEvent]:
        return self._call(lambda: self._manager.get_job_events(job_id, limit=limit))

    def cancel_job(self, job_id: str, *, by: str | None = None) -> bool:
        return self._call(lambda: self._manager.cancel_job(job_id, by=by))

    def retry_job(self, job_id: str, *, by: str | None = None) -> bool:
        return self._call(lambda: self._manager.retry_job(job_id, by=by))

    def get_jobs_by_status(self, status: str | JobStatus, limit: int = 10) -> list[Job]:
        return self._call(lambda: self._manager.get_jobs_by_status(status, limit))

    def list_jobs(
        self,
        *,
        status: str | JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        return self._call(
            lambda: self._manager.list_jobs(
                status=status, type=type, limit=limit, before=before, queue=queue
            )
        )

    def pause_queue(self, name: str) -> bool:
        return self._call(lambda: self._manager.pause_queue(name))

    def resume_queue(self, name: str) -> bool:
        return self._call(lambda: self._manager.resume_queue(name))

    def list_queues(self) -> list[QueueInfo]:
        return self._call(self._manager.list_queues)

    def list_types(self) -> list[TypeDefinition]:
        return self._call(self._manager.list_types)

    def get_stats(self, queue: str | None = None) -> QueueStats:
        return self._call(lambda: self._manager.get_stats(queue))

    def get_throughput(self, window: float = 1800.0, bucket: float = 60.0) -> list[ThroughputPoint]:
        return self._call(lambda: self._manager.get_throughput(window, bucket))

    def get_status(self) -> QueueStatus:
        return self._manager.get_status()

    def list_workers(self) -> list[WorkerInfo]:
        return self._call(self._manager.list_workers)

    def get_activity(self, window: float = 3600.0) -> list[QueueActivity]:
        return self._call(lambda: self._manager.get_activity(window))

    def doctor(self) -> DoctorReport:
        return self._call(self._manager.doctor)

    def cleanup(self, older_than_days: float | None = None) -> int:
        return self._call(lambda: self._manager.cleanup(older_than_days))

    def schedule(
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
        """See :meth:`QueueManager.schedule`."""
        manager = self._manager
        return self._call(
            lambda: manager.schedule(
                name,
                job_type,
                payload,
                cron=cron,
                every=every,
                timezone=timezone,
                missed=missed,
                **options,
            )
        )

    def unschedule(self, name: str) -> bool:
        return self._call(lambda: self._manager.unschedule(name))

    def list_schedules(self) -> list[Schedule]:
        return self._call(self._manager.list_schedules)

    def get_schedule(self, name: str) -> Schedule | None:
        return self._call(lambda: self._manager.get_schedule(name))

    def pause_schedule(self, name: str) -> bool:
        return self._call(lambda: self._manager.pause_schedule(name))

    def resume_schedule(self, name: str) -> bool:
        return self._call(lambda: self._manager.resume_schedule(name))

    def run_schedule_now(self, name: str) -> str | None:
        return self._call(lambda: self._manager.run_schedule_now(name))

    def get_in_memory_queue(self, name: str) -> SyncMemoryQueue:
        """A blocking face of an in-memory queue, for threads without an event loop."""
        return SyncMemoryQueue(self, self._manager.get_in_memory_queue(name))

    def get_all_in_memory_stats(self) -> dict[str, dict[str, Any]]:
        return self._manager.get_all_in_memory_stats()


class SyncTask(Generic[P]):
    """``task.sync``: enqueue a task from sync code (blocks until the job is saved)."""

    def __init__(self, task: Task[P, Any]) -> None:
        self._task = task

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> str:
        task = self._task
        payload = task.payload(args, kwargs)
        return task.manager.sync.add_job(task.name, payload, by="task", **task.options())

    def schedule(
        self,
        name: str,
        *,
        cron: str | None = None,
        every: float | timedelta | None = None,
        timezone: str = "UTC",
        missed: str = "latest",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Schedule:
        """See :meth:`Task.schedule`."""
        task = self._task
        timing: dict[str, Any] = {"cron": cron, "every": every, "timezone": timezone}
        return task.manager.sync._call(
            lambda: task.schedule(name, **timing, missed=missed, args=args, kwargs=kwargs)
        )


class SyncMemoryQueue:
    """``add`` blocks until the processor's result is ready (or raises its error)."""

    def __init__(self, face: SyncQueueManager, queue: MemoryQueue) -> None:
        self._face = face
        self._queue = queue

    @property
    def name(self) -> str:
        return self._queue.name

    def add(self, payload: Any) -> Any:
        return self._face._call(lambda: self._queue.add(payload))

    def stats(self) -> MemoryQueueStats:
        return self._queue.stats()
