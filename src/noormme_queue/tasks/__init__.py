"""Functions as tasks: ``@qm.task`` turns a function into a job type.

::

    @qm.task                                    # or @qm.task(name=..., priority=..., ...)
    async def send_welcome(user_id: int, *, lang: str = "en") -> str: ...

    job_id = await send_welcome.enqueue(42, lang="fr")     # arguments checked now
    job_id = send_welcome.sync.enqueue(42)                 # from sync code
    job_id = await send_welcome.using(priority=9, delay=30.0).enqueue(42)
    await send_welcome.schedule("welcome-7", cron="0 9 * * *", args=(7,))  # recurring
    send_welcome(42)                                       # still a plain call

The job type is ``name=`` when given, else the function's ``module.qualname``: the name a
worker in another process finds the task under once it imports the module. A function it
could not import that way (defined inside another function, a lambda) needs ``name=``.
Decorating registers the task's handler on the manager, so importing the module is all a
worker needs. The arguments travel as a payload keyed by parameter name (see
:mod:`.arguments`).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypedDict, TypeVar, Unpack, overload

from ..core.errors import InvalidJob
from ..core.job import JSON, Job
from ..core.options import AddJobOptions
from ..core.retry import RetryPolicy
from ..core.schedule import Schedule
from ..core.threads import is_async_callable
from ..sync import SyncTask
from .arguments import Arguments, to_result

if TYPE_CHECKING:
    from ..manager import QueueManager

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("noormme_queue")


class TaskOptions(TypedDict, total=False):
    """What ``@qm.task(...)`` accepts: the job type's name, its handler's queue and limits
    (as ``register_handler`` takes them), and defaults for every enqueue of the task."""

    name: str
    queue: str | None
    priority: int
    max_attempts: int | None
    retry_policy: RetryPolicy | Mapping[str, Any] | None
    timeout: float | None
    concurrency_limit: int | None
    rate_limit: str | None


class EnqueueOptions(AddJobOptions, total=False):
    """``add_job``'s options for one enqueue (``task.using(...)``), and its ``connection``."""

    connection: Any


# Options of @task that are the handler's (register_handler), not each job's.
_HANDLER_OPTIONS = ("queue", "concurrency_limit", "rate_limit")
# Defaults for each job (the queue comes from the handler's, like any add_job).
_JOB_DEFAULTS = ("priority", "max_attempts", "retry_policy", "timeout")


class Task(Generic[P, R]):
    """A function that also runs as a job: call it, or :meth:`enqueue` it."""

    def __init__(
        self,
        manager: QueueManager,
        func: Callable[P, R],
        name: str,
        defaults: Mapping[str, Any],
        arguments: Arguments | None = None,
    ) -> None:
        self._manager = manager
        self._func = func
        self._name = name
        self._defaults = dict(defaults)
        self._arguments = arguments or Arguments(func, name)
        functools.update_wrapper(self, func)

    @property
    def name(self) -> str:
        """The job type of this task's jobs."""
        return self._name

    @property
    def func(self) -> Callable[P, R]:
        return self._func

    @property
    def manager(self) -> QueueManager:
        return self._manager

    @property
    def arguments(self) -> Arguments:
        """The task's signature and the conversions of its arguments to and from JSON."""
        return self._arguments

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._func(*args, **kwargs)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Save a job that calls the function with these arguments; return its id."""
        payload = self._arguments.to_payload(args, kwargs)
        return await self._manager.add_job(self._name, payload, by="task", **self.options())

    async def schedule(
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
        """Call the function with ``args``/``kwargs`` on each tick of ``cron`` or ``every``,
        exactly once across all processes: :meth:`QueueManager.schedule` with this task's
        type, payload and options (``task.using(...)`` sets them per schedule)."""
        payload = self._arguments.to_payload(tuple(args), kwargs or {})
        timing: dict[str, Any] = {"cron": cron, "every": every, "timezone": timezone}
        return await self._manager.schedule(
            name, self._name, payload, **timing, missed=missed, **self.options()
        )

    @property
    def sync(self) -> SyncTask[P]:
        """``task.sync.enqueue(...)``: the same, blocking, for sync code."""
        return SyncTask(self)

    def using(self, **options: Unpack[EnqueueOptions]) -> Task[P, R]:
        """The same task with ``add_job`` options for its next enqueues (``priority``,
        ``delay``, ``run_at``, ``unique_key``, ``connection``, ...)."""
        return Task(
            self._manager, self._func, self._name, self._defaults | options, self._arguments
        )

    def payload(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, JSON]:
        """The payload of a job calling the function with ``args`` and ``kwargs``."""
        return self._arguments.to_payload(args, kwargs)

    def options(self) -> dict[str, Any]:
        """The ``add_job`` options of the next enqueue."""
        return {k: v for k, v in self._defaults.items() if v is not None}

    def __repr__(self) -> str:
        return f"<Task {self._name}>"


class TaskHandler:
    """The handler registered for a task: calls the function with the job's arguments.

    Its ``process`` is async for an async function and sync otherwise (so a sync task runs
    on a pool thread like any sync handler); ``check_payload`` refuses a payload the
    function could not be called with, whoever enqueues it (``add_job``, the REST API)."""

    def __init__(self, task: Task[Any, Any]) -> None:
        self.task = task
        self.process: Callable[[Job], Any] = (
            self._process_async if is_async_callable(task.func) else self._process_sync
        )

    def _process_sync(self, job: Job) -> JSON:
        args, kwargs = self.task.arguments.to_call(job.payload)
        return to_result(self.task.func(*args, **kwargs))

    async def _process_async(self, job: Job) -> JSON:
        args, kwargs = self.task.arguments.to_call(job.payload)
        return to_result(await self.task.func(*args, **kwargs))

    def check_payload(self, payload: JSON) -> None:
        self.task.arguments.check(payload)


@overload
def task(func: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(**options: Unpack[TaskOptions]) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def task(func: Any = None, /, **options: Any) -> Any:
    """``@task`` / ``@task(...)``: :meth:`QueueManager.task` on ``get_queue_manager()``, the
    process-wide manager configured from the ``QUEUE_*`` variables."""
    from ..manager import get_queue_manager

    return (
        get_queue_manager().task(func, **options) if func else get_queue_manager().task(**options)
    )


def make_task(
    manager: QueueManager, func: Callable[P, R], options: Mapping[str, Any]
) -> Task[P, R]:
    """Build the task for ``func`` and register its handler on ``manager``."""
    unknown = set(options) - set(TaskOptions.__annotations__)
    if unknown:
        first = sorted(unknown)[0]
        raise InvalidJob(
            f"@task got an unknown option {first!r} (known: "
            f"{', '.join(TaskOptions.__annotations__)})",
            field=first,
        )
    if not callable(func):
        raise InvalidJob(f"@task decorates a function, got {type(func).__name__}", "type")
    name = options.get("name")
    job_type = task_name(func) if name is None else name
    defaults = {k: options[k] for k in _JOB_DEFAULTS if options.get(k) is not None}
    task = Task(manager, func, job_type, defaults)
    existing = manager.handlers.get(job_type)
    if existing is not None:
        other = getattr(existing.source, "task", None)
        if not isinstance(other, Task) or _path(other.func) != _path(func):
            raise InvalidJob(
                f"job type {job_type!r} already has a handler ({_describe(existing.source)}); "
                "give this task another name=",
                field="name",
            )
    limits = {k: options[k] for k in _HANDLER_OPTIONS if options.get(k) is not None}
    manager.register_handler(job_type, TaskHandler(task), **limits)
    return task


def task_name(func: Callable[..., Any]) -> str:
    """``module.qualname``, the name a worker elsewhere imports the function by."""
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    module = getattr(func, "__module__", None)
    if not isinstance(qualname, str) or not isinstance(module, str):
        raise InvalidJob(
            f"{func!r} has no module and name to be found by; give the task a name=",
            field="name",
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise InvalidJob(
            f"{module}.{qualname} is defined inside another function (or is a lambda), so a "
            f"worker in another process could not import it by that name; give the task a "
            f"name: @qm.task(name='...')",
            field="name",
        )
    if module == "__main__":
        module = _main_module_name()
    return f"{module}.{qualname}"


def _main_module_name() -> str:
    """What a worker importing the script sees as its module: ``python -m pkg.mod`` gives
    ``pkg.mod``, ``python app.py`` gives ``app``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        name: str = spec.name
        return name
    filename = getattr(main, "__file__", None)
    if isinstance(filename, str) and filename.endswith(".py"):
        return Path(filename).stem
    raise InvalidJob(
        "a task defined in an interactive session or python -c has no module a worker "
        "could import; give it a name: @qm.task(name='...')",
        field="name",
    )


def _path(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


def _describe(handler: object) -> str:
    task = getattr(handler, "task", None)
    if isinstance(task, Task):
        return f"the task {_path(task.func)}"
    return f"{type(handler).__name__} {getattr(handler, '__qualname__', '')}".strip()
