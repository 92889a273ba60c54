"""Any accepted handler shape behind one interface the worker calls (:class:`BoundHandler`).

Sync code (``process``, hooks) runs through :mod:`~noormme_queue.core.threads`, the one way
the package runs sync code off the loop; whether a callable is async is decided there too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.handler import HandlerLike
from ..core.job import JSON, Job
from ..core.retry import RetryPolicy
from ..core.routing import DEFAULT_QUEUE, TypeLimits
from ..core.threads import call, is_async_callable


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
        "limits",
        "name",
        "queue",
        "ready",
    )

    def __init__(
        self,
        name: str,
        handler: HandlerLike | LazyHandler,
        *,
        queue: str = DEFAULT_QUEUE,
        limits: TypeLimits | None = None,
    ) -> None:
        self.name = name
        self.queue = queue
        """The queue its jobs go to unless ``add_job(queue=...)`` says otherwise."""
        self.limits = limits or TypeLimits()
        self.ready = True
        """Whether the worker may claim its jobs: not before its limits are stored."""
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
        self._process_is_async = is_async_callable(self._process)
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
        return await call(self._process, job)

    async def on_complete(self, job: Job) -> None:
        self._resolve()
        if self._complete is not None:
            await call(self._complete, job)

    async def on_failure(self, job: Job, error: BaseException) -> None:
        self._resolve()
        if self._fail is not None:
            await call(self._fail, job, error)

    def check_payload(self, payload: JSON) -> None:
        """The handler's own enqueue-time check (``check_payload(payload)``, if it has one),
        given the payload after its model: it raises ``InvalidPayload`` to refuse it."""
        hook = getattr(self.source, "check_payload", None)
        if callable(hook):
            hook(payload)

    def retry_policy_for(self, payload: JSON) -> RetryPolicy | None:
        hook = getattr(self.source, "retry_policy_for", None)
        return hook(payload) if callable(hook) else None
