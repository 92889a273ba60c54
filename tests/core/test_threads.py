"""The one way to run sync code off the loop: daemon threads, context copied, reused."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading

import pytest

from noormme_queue.core import threads
from noormme_queue.core.threads import call, is_async_callable, run_sync, submit_sync

from ..conftest import wait_until

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def _coro(x: int) -> int:
    return x


class _AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


def test_is_async_callable_sees_through_partials_and_call_methods() -> None:
    assert is_async_callable(_coro)
    assert is_async_callable(functools.partial(_coro, 1))
    assert is_async_callable(functools.partial(functools.partial(_coro), 1))
    assert is_async_callable(_AsyncCallable())
    assert not is_async_callable(lambda x: x)
    assert not is_async_callable(functools.partial(print, 1))
    assert not is_async_callable(len)


async def test_run_sync_runs_on_a_daemon_pool_thread_with_the_callers_context() -> None:
    VAR.set("from the caller")

    def where() -> tuple[str, bool, str]:
        me = threading.current_thread()
        return me.name, me.daemon, VAR.get()

    name, daemon, seen = await run_sync(where)
    assert name.startswith(threads.THREAD_NAME) and daemon
    assert seen == "from the caller"


async def test_call_awaits_async_callables_on_the_loop_and_sync_ones_on_a_thread() -> None:
    loop_thread = threading.current_thread()

    async def on_loop() -> threading.Thread:
        return threading.current_thread()

    assert await call(on_loop) is loop_thread
    assert await call(threading.current_thread) is not loop_thread

    def returns_a_coroutine() -> object:
        return _coro(7)

    assert await call(returns_a_coroutine) == 7


async def test_busy_threads_get_company_and_idle_ones_are_reused() -> None:
    gate = threading.Event()
    both_in = threading.Barrier(2, timeout=10)

    def blocked() -> str:
        both_in.wait()  # only returns once two threads are inside at the same time
        gate.wait(10)
        return threading.current_thread().name

    pool = threads._Pool()  # its own pool: other tests leave idle threads in the shared one
    first = pool.submit(blocked)
    second = pool.submit(blocked)
    gate.set()
    names = {await asyncio.wrap_future(first), await asyncio.wrap_future(second)}
    assert len(names) == 2
    # Both are idle now: the next call takes one of them rather than a new thread.
    reused = pool.submit(lambda: threading.current_thread().name)
    assert await asyncio.wrap_future(reused) in names
    assert pool._count == 2


async def test_cancelling_the_await_leaves_the_thread_to_finish() -> None:
    entered = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        entered.set()
        release.wait(10)
        finished.set()

    future = submit_sync(slow)
    waiter = asyncio.ensure_future(asyncio.wrap_future(future))
    await wait_until(entered.is_set, what="the call to start")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not future.done()  # a thread cannot be interrupted: it is still running
    release.set()
    await wait_until(finished.is_set, what="the thread to finish its call")
    await wait_until(future.done, what="its future to be done")


async def test_idle_threads_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "IDLE_SECONDS", 0.05)
    pool = threads._Pool()
    started = pool.submit(lambda: threading.current_thread())
    thread = await asyncio.wrap_future(started)
    await wait_until(lambda: not thread.is_alive(), what="the idle thread to end")
    assert pool._count == 0 and pool._idle == 0
    # A later call starts a new thread.
    assert (await asyncio.wrap_future(pool.submit(lambda: 5))) == 5
