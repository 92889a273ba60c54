"""Running a Django task in the worker: the handler registered for each task's job type.

The job's payload holds the call (``{"args": [...], "kwargs": {...}}``). A sync task runs on
a pool thread with Django's database connections tidied before and after
(``close_old_connections``, as a request would); an async one runs on the worker's loop.
``task_started`` and ``task_finished`` are sent like any backend sends them, and a task
that ``takes_context`` gets a ``TaskContext`` whose result is this job (its id, attempt).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.errors import InvalidPayload
from ...core.job import JSON, Job
from ...core.threads import is_async_callable
from .compat import Task, TaskContext, TaskResultStatus, normalize_json, task_finished, task_started
from .results import job_result

if TYPE_CHECKING:
    from .backend import NoormmeTaskBackend


class DjangoTaskHandler:
    def __init__(self, backend: NoormmeTaskBackend, task: Task[Any, Any]) -> None:
        self.backend = backend
        self.task = task
        self.signature = inspect.signature(task.func)
        self.process: Callable[[Job], Any] = (
            self._process_async if is_async_callable(task.func) else self._process_sync
        )

    # -- enqueue: the call must fit the function --------------------------------------------

    def check_payload(self, payload: JSON) -> None:
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("args", []), list)
            or not isinstance(payload.get("kwargs", {}), dict)
        ):
            raise InvalidPayload(
                f"{self.task.module_path}: a Django task's payload is "
                '{"args": [...], "kwargs": {...}}',
                field="payload",
            )
        self.bind(payload.get("args", []), payload.get("kwargs", {}))

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Refuse a call the function could not take (a missing or extra argument)."""
        context = (object(),) if self.task.takes_context else ()
        try:
            self.signature.bind(*context, *args, **kwargs)
        except TypeError as exc:
            raise InvalidPayload(f"{self.task.module_path}: {exc}", field="payload") from None

    # -- run ---------------------------------------------------------------------------------

    def _call_args(self, job: Job) -> tuple[list[Any], dict[str, Any]]:
        args = list(job.payload.get("args", []))
        kwargs = dict(job.payload.get("kwargs", {}))
        result = job_result(self.task, job, self.backend.alias)
        task_started.send(sender=type(self.backend), task_result=result)
        if self.task.takes_context:
            args.insert(0, TaskContext(task_result=result))
        return args, kwargs

    def _finished(self, job: Job, status: Any) -> None:
        result = job_result(self.task, job, self.backend.alias)
        object.__setattr__(result, "status", status)
        task_finished.send(sender=type(self.backend), task_result=result)

    def _process_sync(self, job: Job) -> JSON:
        from django.db import close_old_connections

        close_old_connections()
        try:
            args, kwargs = self._call_args(job)
            try:
                value = normalize_json(self.task.func(*args, **kwargs))
            except BaseException:
                self._finished(job, TaskResultStatus.FAILED)  # logged with the traceback
                raise
            self._finished(job, TaskResultStatus.SUCCESSFUL)
            return value
        finally:
            close_old_connections()

    async def _process_async(self, job: Job) -> JSON:
        args, kwargs = self._call_args(job)
        try:
            value = normalize_json(await self.task.func(*args, **kwargs))
        except BaseException:
            self._finished(job, TaskResultStatus.FAILED)
            raise
        self._finished(job, TaskResultStatus.SUCCESSFUL)
        return value
