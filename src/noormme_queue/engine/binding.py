"""What a job handler is, and how any handler is run.

A handler is either a plain callable taking the :class:`~noormme_queue.Job`
(``def`` or ``async def``) or an object with ``process(job)`` and, optionally,
``on_complete(job)``, ``on_failure(job, error)``, a pydantic ``payload_model``
validated at enqueue, and ``retry_policy_for(payload)`` supplying a job's
default retry policy from its payload. Sync code runs in a worker thread with
the caller's context copied, so it never blocks the event loop. Handlers never
see the store.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from ..core.job import JSON, Job
from ..core.retry import RetryPolicy

T = TypeVar("T")


@runtime_checkable
class JobHandler(Protocol):
    """The object form of a handler; only ``process`` is required."""

    def process(self, job: Job) -> Any: ...


HandlerLike = JobHandler | Callable[[Job], Any]


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Await ``fn(*args)`` if it is async; run it in a thread (context copied) if not."""
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    ):
        return await cast(Callable[..., Awaitable[Any]], fn)(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):  # a sync function that returned a coroutine
        return await result
    return result


class LazyHandler:
    """A handler built on first use: the built-in handlers wait behind one of these, so a
    worker that never runs them never imports pydantic, httpx or Pillow."""

    def __init__(self, build: Callable[[], HandlerLike]) -> None:
        self._build = build
        self._handler: HandlerLike | None = None

    def resolve(self) -> HandlerLike:
        if self._handler is None:
            self._handler = self._build()
        return self._handler


class BoundHandler:
    """A handler of any accepted shape, behind one async interface."""

    __slots__ = (
        "_complete",
        "_fail",
        "_process",
        "_process_is_async",
        "_resolved",
        "_source",
        "name",
    )

    def __init__(self, name: str, handler: HandlerLike | LazyHandler) -> None:
        self.name = name
        self._source = handler
        self._resolved = False
        if not isinstance(handler, LazyHandler):
            self._resolve()  # a wrong shape is reported at registration

    def _resolve(self) -> None:
        if self._resolved:
            return
        handler = self.source
        process = getattr(handler, "process", None)
        if callable(process):
            self._process: Callable[[Job], Any] = process
        elif callable(handler):
            self._process = handler
        else:
            raise TypeError(
                f"handler for {self.name!r} must be a callable or an object with a process(job)"
                f" method, got {type(handler).__name__}"
            )
        self._complete: Callable[[Job], Any] | None = getattr(handler, "on_complete", None)
        self._fail: Callable[[Job, BaseException], Any] | None = getattr(
            handler, "on_failure", None
        )
        self._process_is_async = inspect.iscoroutinefunction(self._process)
        self._resolved = True

    @property
    def source(self) -> HandlerLike:
        """The handler object or function as registered (built now if it was lazy)."""
        if isinstance(self._source, LazyHandler):
            return self._source.resolve()
        return self._source

    @property
    def payload_model(self) -> Any:
        return getattr(self.source, "payload_model", None)

    @property
    def has_on_complete(self) -> bool:
        self._resolve()
        return self._complete is not None

    @property
    def has_on_failure(self) -> bool:
        self._resolve()
        return self._fail is not None

    @property
    def is_async(self) -> bool:
        """``process`` is a coroutine function; otherwise it runs in a thread (call_sync)."""
        self._resolve()
        return self._process_is_async

    def call_sync(self, job: Job) -> Any:
        """Run a sync ``process`` here, in the calling thread."""
        self._resolve()
        return self._process(job)

    async def process(self, job: Job) -> JSON:
        self._resolve()
        if self._process_is_async:
            return await self._process(job)
        return await call_maybe_async(self._process, job)

    async def on_complete(self, job: Job) -> None:
        self._resolve()
        if self._complete is not None:
            await call_maybe_async(self._complete, job)

    async def on_failure(self, job: Job, error: BaseException) -> None:
        self._resolve()
        if self._fail is not None:
            await call_maybe_async(self._fail, job, error)

    def retry_policy_for(self, payload: JSON) -> RetryPolicy | None:
        hook = getattr(self.source, "retry_policy_for", None)
        return hook(payload) if callable(hook) else None
