"""Blocking work run on a thread of its own, never on the event loop's default executor.

The default executor is shared with everything else in the application (and
with ``asyncio.to_thread``); a slow or stuck task there must not delay opening
or closing the store or stopping the lease keeper.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = object()


async def in_own_thread(fn: Callable[[], T], name: str = "noormme-queue-io") -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        return await future
    finally:
        thread.join(0.1)  # it has handed over its result and is returning: no leftovers


class DaemonThreadPool:
    """A fixed set of daemon threads for sync handlers.

    Unlike ``ThreadPoolExecutor`` (whose threads the interpreter joins at exit), a
    handler stuck in a thread cannot keep the process alive after a forced stop.
    """

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._work.put((future, lambda: fn(*args)))
        with self._lock:
            if len(self._threads) < self._size:  # grow lazily, up to one thread per slot
                thread = threading.Thread(
                    target=self._serve, daemon=True, name=f"{self._name}-{len(self._threads)}"
                )
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self, wait: float = 1.0) -> None:
        """End the idle threads (waiting at most ``wait`` seconds); a thread still inside a
        handler ends when the handler returns, or with the process."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._work.put(_STOP)
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is _STOP:
                return
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
