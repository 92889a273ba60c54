"""``NoormmeTaskBackend``: Django's Tasks framework on noormme-queue.

::

    TASKS = {
        "default": {
            "BACKEND": "noormme_queue.contrib.django.NoormmeTaskBackend",
            "QUEUES": ["default", "emails"],          # the queue names tasks may use
            "ENQUEUE_ON_COMMIT": True,                 # the default
            "OPTIONS": {"DATABASE": "default"},        # optional, see below
        }
    }

``OPTIONS["MAX_ATTEMPTS"]``: runs per task, retries included (default 1: in Django's model
a task that raises is FAILED; give more to retry with the queue's backoff).

Which queue manager: ``OPTIONS["QUEUE_MANAGER"]`` (``"module:attribute"``, a
``QueueManager`` or a factory of one, as ``--app`` takes it); else, with
``OPTIONS["DATABASE"]``, one on that Django database (its SQLite file or PostgreSQL
database, the other settings from ``QUEUE_*``); else ``get_queue_manager()``.

Each task is a job type named by its ``module.qualname``; its payload is the call
(``{"args": [...], "kwargs": {...}}``, checked against the signature at enqueue). Django's
priorities (-100..100, higher first) are ours as they are (ours take any integer, higher
first, default 0 in both); ``queue_name`` is the job's queue; ``run_after`` its ``run_at``.

Transactions. When the queue lives in Django's database (``OPTIONS["DATABASE"]``), a task
enqueued inside ``transaction.atomic()`` is written through Django's own connection in that
transaction: it exists if and only if the transaction commits, and the workers are woken on
commit. Otherwise ``ENQUEUE_ON_COMMIT`` (default true) holds the write until the
transaction commits (the result has its id at once; ``enqueued_at`` is set on commit), and
a rollback drops it. Outside a transaction the job is written at once either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from django.core import checks

from ...core.config import QueueConfig
from ...core.errors import InvalidPayload
from ...core.job import to_datetime
from ...core.options import JobOptions, check_max_attempts
from ...manager import QueueManager, get_queue_manager
from .compat import (
    BaseTaskBackend,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    normalize_json,
    task_enqueued,
)
from .handler import DjangoTaskHandler
from .results import job_result, new_result, run_after_of
from .settings import database_url, load_manager

P = ParamSpec("P")
T = TypeVar("T")

_managers: dict[str, QueueManager] = {}  # one manager per database URL, for every backend
_managers_lock = threading.Lock()


class NoormmeTaskBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.database: str | None = self.options.get("DATABASE")
        self.enqueue_on_commit = bool(params.get("ENQUEUE_ON_COMMIT", True))
        self.max_attempts = check_max_attempts(self.options.get("MAX_ATTEMPTS", 1))
        self._manager: QueueManager | None = None
        self._tasks: dict[str, Task[Any, Any]] = {}
        self._lock = threading.RLock()

    # -- the queue manager, and the tasks registered on it -------------------------------------

    @property
    def manager(self) -> QueueManager:
        """The queue this backend enqueues into (built on first use)."""
        with self._lock:
            if self._manager is None:
                manager = self._build_manager()
                for task in self._tasks.values():
                    self._register(manager, task)
                self._manager = manager
            return self._manager

    def _build_manager(self) -> QueueManager:
        path = self.options.get("QUEUE_MANAGER")
        if path:
            return load_manager(path)
        if self.database is None:
            return get_queue_manager()
        url = database_url(self.database)
        with _managers_lock:
            if url not in _managers:
                config = replace(QueueConfig.from_env(), database_url=url)
                _managers[url] = QueueManager(config)
            return _managers[url]

    def validate_task(self, task: Task[Any, Any]) -> None:
        """Django's checks, then the task's job type is registered (each process that
        imports the task can run it)."""
        super().validate_task(task)
        with self._lock:
            if task.module_path not in self._tasks:
                self._tasks[task.module_path] = task
                if self._manager is not None:
                    self._register(self._manager, task)

    def _register(self, manager: QueueManager, task: Task[Any, Any]) -> None:
        if task.module_path not in manager.handlers:
            manager.register_handler(task.module_path, DjangoTaskHandler(self, task))

    @property
    def tasks(self) -> dict[str, Task[Any, Any]]:
        """The tasks seen so far (every one decorated in a module imported here), by type."""
        with self._lock:
            return dict(self._tasks)

    def task_for(self, job_type: str) -> Task[Any, Any] | None:
        """The task whose jobs have this type, importing its module if need be."""
        with self._lock:
            found = self._tasks.get(job_type)
        if found is not None:
            return found
        from django.utils.module_loading import import_string

        try:
            target = import_string(job_type)
        except ImportError:
            return None
        if isinstance(target, Task) and target.backend == self.alias:
            return target
        return None

    # -- enqueue -------------------------------------------------------------------------------

    def enqueue(
        self,
        task: Task[P, T],
        args: P.args,  # type: ignore[valid-type]
        kwargs: P.kwargs,  # type: ignore[valid-type]
    ) -> TaskResult[T]:
        self.validate_task(task)
        try:
            call_args, call_kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(
                f"{task.module_path}: the arguments must be JSON data: {exc}", field="payload"
            ) from None
        manager = self.manager
        handler = manager.handlers[task.module_path].source
        assert isinstance(handler, DjangoTaskHandler)
        handler.bind(call_args, call_kwargs)
        payload: dict[str, Any] = {"args": call_args, "kwargs": call_kwargs}
        if task.run_after is not None:
            payload["run_after"] = task.run_after.timestamp()
        options = JobOptions(
            priority=task.priority,
            run_at=task.run_after,
            queue=task.queue_name,
            max_attempts=self.max_attempts,
        )
        (job,) = manager.build_jobs([(task.module_path, payload, options)], by="django")
        result = new_result(task, job.id, call_args, call_kwargs, self.alias, None)
        enqueued_at = to_datetime(job.created_at)

        def enqueued() -> None:
            object.__setattr__(result, "enqueued_at", enqueued_at)
            task_enqueued.send(type(self), task_result=result)

        from django.db import connections, transaction

        if self.database is not None:  # the queue lives in this database: join its transaction
            manager.sync.enqueue_on(connections[self.database], [job])
            enqueued()
        elif self.enqueue_on_commit and connections["default"].in_atomic_block:

            def write() -> None:
                manager.sync.save_jobs([job])
                enqueued()

            transaction.on_commit(write)
        else:
            manager.sync.save_jobs([job])
            enqueued()
        return result

    # -- results -------------------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult[Any]:
        job = self.manager.sync.get_job(result_id)
        if job is None:
            raise TaskResultDoesNotExist(f"no task result with id {result_id!r}")
        task = self.task_for(job.type)
        if task is None:
            raise TaskResultDoesNotExist(
                f"{result_id} is a {job.type!r} job, not a task of the {self.alias!r} backend"
            )
        payload = job.payload if isinstance(job.payload, dict) else {}
        changes: dict[str, Any] = {"priority": max(-100, min(100, job.priority))}
        if job.queue in self.queues or not self.queues:
            changes["queue_name"] = job.queue
        run_after: datetime | None = run_after_of(payload)
        if run_after is not None:
            changes["run_after"] = run_after
        return job_result(task.using(**changes), job, self.alias)

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        if self.database is not None:
            try:
                database_url(self.database)
            except Exception as exc:
                yield checks.Error(str(exc), obj=self.alias, id="noormme_queue.E001")
