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


class Every:
    """Call ``step(clock.now())`` every ``period`` seconds (first after one period, unless
    ``at_start``) until stopped; a step that raises is logged and tried again next time."""

    def __init__(
        self, name: str, period: float, step: Step, clock: Clock, *, at_start: bool = False
    ) -> None:
        self.name = name
        self.period = period
        self._step = step
        self._clock = clock
        self._at_start = at_start
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=f"noormme-queue {self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        if not self._at_start:
            await asyncio.sleep(self.period)
        while True:
            try:
                await self._step(self._clock.now())
            except Exception:
                log.exception("%s failed; trying again in %.1fs", self.name, self.period)
            await asyncio.sleep(self.period)


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
