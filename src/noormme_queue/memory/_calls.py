"""How in-memory queues call processors and accept work from other threads."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ..core.errors import NoProcessor
from ..core.threads import call, is_async_callable


def as_async_processor(processor: Callable[..., Any]) -> Callable[[Any], Awaitable[Any]]:
    """An async callable for ``processor``, decided once rather than on every job.

    Coroutine functions are called directly (the fast path); anything else goes
    through :func:`~noormme_queue.core.threads.call`, which runs it on a pool thread.
    """
    if not callable(processor):
        raise TypeError(f"a processor must be callable, got {type(processor).__name__}")
    if is_async_callable(processor):
        return cast(Callable[[Any], Awaitable[Any]], processor)
    return functools.partial(call, processor)


def no_processor(name: str) -> NoProcessor:
    return NoProcessor(
        f"in-memory queue {name!r} has no processor, so it cannot run jobs; set one first "
        f"with queue.set_processor(fn) (for example "
        f"qm.get_in_memory_queue({name!r}).set_processor(fn))"
    )


def running_loop(name: str, method: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"{method}() on in-memory queue {name!r} must be called from the event loop's "
            f"thread; from other threads use add_threadsafe()"
        ) from None


def loop_for_other_threads(
    loop: asyncio.AbstractEventLoop | None, name: str
) -> asyncio.AbstractEventLoop:
    """The loop a thread-safe add goes to, or a clear error if there is none to use."""
    if loop is None or loop.is_closed() or not loop.is_running():
        raise RuntimeError(
            f"in-memory queue {name!r} is not attached to a running event loop; start the "
            f"QueueManager (or call queue.attach() from async code) before add_threadsafe()"
        )
    try:
        current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop:
        # Blocking on the returned future here would deadlock the loop.
        raise RuntimeError(
            f"add_threadsafe() on in-memory queue {name!r} was called from its own event "
            f"loop; use `await queue.add(...)` or queue.add_nowait(...) there"
        )
    return loop
