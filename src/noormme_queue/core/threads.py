"""The one way to run sync code off the event loop, and the one test of "is it async?".

Sync handlers, completion hooks, in-memory processors, the built-in handlers' blocking work
(Pillow, file writes) and the stores' open and close all go through :func:`run_sync` (or
:func:`submit_sync`, when the caller must know when the thread really ends). The calls run
on daemon threads of one process-wide pool that grows when every thread is busy and shrinks
when threads sit idle:

- daemon threads, because a thread stuck in user code must not keep the process alive once
  a forced stop (a second Ctrl+C) has given its job back; ``asyncio.to_thread``'s executor
  threads are joined at exit, which made a second signal wait for a running image job;
- a pool of its own, because the loop's default executor is shared with the application: a
  slow task there must not delay the queue, nor the queue the application;
- the caller's context is copied into the thread (contextvars such as the progress reporter
  go along), as ``asyncio.to_thread`` does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")

IDLE_SECONDS = 30.0  # a thread idle this long ends; the next call starts a new one
THREAD_NAME = "noormme-queue-sync"


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` returns an awaitable by definition: a coroutine function, a
    ``functools.partial`` of one, or an object whose ``__call__`` is one."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    )


class _Pool:
    """Daemon threads taking calls from one queue; a new thread whenever none is idle."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]]]
        self._work = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, call: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            start = self._idle == 0
            if start:
                self._count += 1
            else:
                self._idle -= 1  # this call takes an idle thread
        self._work.put((future, call))
        if start:
            threading.Thread(
                target=self._serve, name=f"{THREAD_NAME}-{self._count}", daemon=True
            ).start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                future, call = self._work.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:
                        self._idle -= 1
                        self._count -= 1
                        return
                continue  # a call was handed to this thread just now: take it
            if future.set_running_or_notify_cancel():
                try:
                    result = call()
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, call
            with self._lock:
                self._idle += 1


_POOL = _Pool()


def submit_sync(
    fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> concurrent.futures.Future[T]:
    """Start ``fn(*args, **kwargs)`` on a pool thread with the caller's context; the
    returned future is done when the thread has really finished the call."""
    context = contextvars.copy_context()
    return _POOL.submit(lambda: context.run(fn, *args, **kwargs))


async def run_sync(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking ``fn`` on a pool thread and await its result. Cancelling the await
    does not stop the thread (no thread can be interrupted); it only stops waiting."""
    return await asyncio.wrap_future(submit_sync(fn, *args, **kwargs))


async def call(fn: Callable[..., Any], /, *args: Any) -> Any:
    """Call ``fn`` whatever its kind: awaited if async, on a pool thread if not (and a sync
    function that returns an awaitable has it awaited too)."""
    if is_async_callable(fn):
        return await cast(Callable[..., Awaitable[Any]], fn)(*args)
    result = await run_sync(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result
