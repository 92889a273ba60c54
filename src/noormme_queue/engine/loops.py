"""The thin loops around maintenance steps: each service is a ``run_once(now)`` that tests
call with a pinned ``now``; these only call it again and again.

:class:`Every` runs a step as a task on the caller's event loop. :class:`EveryInThread`
runs it in a thread with an event loop of its own, for the lease keeper: a handler that
blocks the worker's loop must not stop its leases from being renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from ..core.clock import Clock

log = logging.getLogger("noormme_queue.maintenance")

Step = Callable[[float], Awaitable[object]]
MIN_SLEEP = 0.001  # never spin, even when the next step is wanted "now"


class Every:
    """Call ``step(clock.now())`` every ``period`` seconds (first after one period, unless
    ``at_start``) until stopped; a step that raises is logged and tried again next time.

    ``until()``, if given, names the clock time the next step is wanted by (the scheduler's
    next tick): the loop sleeps until then when that is sooner than a period. :meth:`wake`
    runs the next step at once."""

    def __init__(
        self,
        name: str,
        period: float,
        step: Step,
        clock: Clock,
        *,
        at_start: bool = False,
        until: Callable[[], float | None] | None = None,
    ) -> None:
        self.name = name
        self.period = period
        self._step = step
        self._clock = clock
        self._at_start = at_start
        self._until = until
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._loop = asyncio.get_running_loop()
            self._woken = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"noormme-queue {self.name}")

    def wake(self) -> None:
        """Run the next step now rather than at its time. Safe to call from any thread."""
        loop = self._loop
        if loop is None or not self.running:
            return
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:
            here = False
        if here:
            self._woken.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                loop.call_soon_threadsafe(self._woken.set)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        if not self._at_start:
            await self._sleep(self.period)
        while True:
            delay = self.period
            try:
                await self._step(self._clock.now())
            except Exception:
                log.exception("%s failed; trying again in %.1fs", self.name, self.period)
            else:
                wanted = None if self._until is None else self._until()
                if wanted is not None:
                    delay = min(delay, max(MIN_SLEEP, wanted - self._clock.now()))
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._woken.wait()
        self._woken.clear()


class EveryInThread:
    """Like :class:`Every`, in a daemon thread running its own event loop."""

    def __init__(self, name: str, period: float, step: Step, clock: Clock) -> None:
        self.name = name
        self.period = period
        self._step = step
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"noormme-queue-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Blocking: ends the loop after the step under way (run it off the event loop)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    loop.run_until_complete(self._step(self._clock.now()))
                except Exception:
                    log.exception("%s failed; trying again in %.1fs", self.name, self.period)
                if self._stop.wait(self.period):
                    break
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
