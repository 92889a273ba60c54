"""InMemoryQueue: run jobs in this process with bounded concurrency.

This module is the queue's face: adding work, control, stop and statistics.
The worker coroutines live in ``_workers.py``, the books both sides keep in
``_state.py``, the options' defaults and validation in ``options.py``.

``concurrency`` long-lived worker coroutines take jobs first in, first out;
no task is created per job. Each job's future resolves with the processor's
result or raises its error. The meaning of each option:

- ``concurrency``: how many jobs run at once.
- ``interval``: the smallest gap, in seconds, between two consecutive job
  *starts* in this queue, whichever workers run them. ``0`` means unpaced: no
  pacing code runs at all.
- ``timeout``: seconds a job may run; past it the job is cancelled and its
  caller gets :class:`~noormme_queue.JobTimeout`. ``None`` or ``0``: no limit.
- ``max_size``: how many jobs may wait to start (running ones do not count).
  At the limit ``add`` waits for room, ``add(wait=False)`` and
  ``add_nowait`` raise :class:`~noormme_queue.QueueFull`. ``None``: unbounded.
- ``limiter``: another :class:`~noormme_queue.memory.pacing.StartPacer` every
  start must also obey (``RateLimitedQueue`` passes its per-minute limiter here).
- ``monotonic``: the clock for pacing and statistics, in seconds (tests pin it).
- ``unit``: what one job is called in messages (``"job"``; the queue inside a
  ``BatchQueue`` runs batches and says ``"batch"``).

A caller that stops waiting (its task is cancelled, or it cancels the future)
gives its place up: a waiting job is skipped, a running one is cancelled.

The queue attaches to the event loop it is first used on and is bound to that
loop while it has work; after ``stop()`` it may be used again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from ..core.errors import JobDropped, QueueFull
from ._calls import as_async_processor, loop_for_other_threads, no_processor, running_loop
from ._state import QUEUED, Job, QueueState
from ._workers import start_workers
from .options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    validate_concurrency,
    validate_interval,
    validate_max_size,
    validate_name,
    validate_timeout,
)
from .pacing import IntervalPacer, StartPacer, combine_pacers
from .stats import MemoryQueueStats

logger = logging.getLogger("noormme_queue.memory")

P = TypeVar("P")
R = TypeVar("R")


class InMemoryQueue(Generic[P, R]):
    """Jobs run in this process, lost on restart; see the module docstring for the options."""

    kind = "plain"

    def __init__(
        self,
        name: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        interval: float = DEFAULT_INTERVAL,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_size: int | None = None,
        processor: Callable[[P], Awaitable[R]] | Callable[[P], R] | None = None,
        limiter: StartPacer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        unit: str = "job",
    ) -> None:
        self._name = validate_name(name)
        self._concurrency = validate_concurrency(concurrency)
        self._interval = validate_interval(interval)
        self._processor: Callable[..., Any] | None = None
        self._state = QueueState(
            name,
            what=f"a {unit} in in-memory queue {name!r}",
            timeout=validate_timeout(timeout),
            max_size=validate_max_size(max_size),
            # interval=0 and no limiter: no pacer, so the hot path skips pacing entirely.
            pacer=combine_pacers(
                IntervalPacer(self._interval) if self._interval > 0 else None, limiter
            ),
            monotonic=monotonic,
        )
        if processor is not None:
            self.set_processor(processor)
        with contextlib.suppress(RuntimeError):
            self._state.loop = asyncio.get_running_loop()

    # -- properties -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def timeout(self) -> float | None:
        return self._state.timeout

    @property
    def max_size(self) -> int | None:
        return self._state.max_size

    @property
    def paused(self) -> bool:
        return self._state.paused

    @property
    def has_processor(self) -> bool:
        return self._processor is not None

    @property
    def processor(self) -> Callable[[Any], Any] | None:
        return self._processor

    def __repr__(self) -> str:
        state = self._state
        return (
            f"<{type(self).__name__} {self._name!r} concurrency={self._concurrency} "
            f"queued={state.waiting()} running={state.running}>"
        )

    # -- configuration ----------------------------------------------------------------------

    def set_processor(self, processor: Callable[[P], Awaitable[R]] | Callable[[P], R]) -> None:
        """Run jobs with ``processor(payload)``: async, or sync (run in a worker thread)."""
        self._state.call = as_async_processor(processor)
        self._processor = processor

    def attach(self) -> None:
        """Remember the running event loop, so other threads can ``add_threadsafe``."""
        loop = running_loop(self._name, "attach")
        if loop is not self._state.loop:
            self._rebind(loop)

    # -- adding work ------------------------------------------------------------------------

    async def add(self, payload: P, *, wait: bool = True) -> R:
        """Run ``payload`` and return the processor's result (or raise its error).

        When the queue is at ``max_size`` this waits for room, or raises
        :class:`~noormme_queue.QueueFull` if ``wait`` is false.
        """
        while True:
            try:
                job = self._submit(payload, 1)
                break
            except QueueFull:
                if not wait:
                    raise
            await self._wait_for_room()
        return cast(R, await job)

    def add_nowait(self, payload: P) -> asyncio.Future[R]:
        """Queue ``payload`` at once and return its future; ``QueueFull`` at ``max_size``."""
        return cast("asyncio.Future[R]", self._submit(payload, 1))

    def add_threadsafe(self, payload: P) -> concurrent.futures.Future[R]:
        """Queue ``payload`` from another thread; the future resolves like ``add``.

        The queue must be attached to a running loop (used there once, or
        ``attach()``); cancelling the returned future cancels the job.
        """
        if self._processor is None:
            raise no_processor(self._name)
        loop = loop_for_other_threads(self._state.loop, self._name)
        return asyncio.run_coroutine_threadsafe(self.add(payload), loop)

    # -- for queues built on this one (BatchQueue) ------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the queue is bound to (``None`` before its first use)."""
        return self._state.loop

    def busy_elsewhere(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether the queue has live workers on an open event loop other than ``loop``."""
        old = self._state.loop
        return (
            old is not None
            and old is not loop
            and not old.is_closed()
            and self._state.workers_alive()
        )

    def add_weighted(self, payload: P, weight: int) -> asyncio.Future[R]:
        """``add_nowait`` for a job that counts as ``weight`` jobs (a batch of that many
        items) in ``max_size`` and in the statistics."""
        return cast("asyncio.Future[R]", self._submit(payload, weight))

    def _submit(self, payload: Any, weight: int) -> Job:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = running_loop(self._name, "add_nowait")  # raises, explaining
        if self._processor is None:
            raise no_processor(self._name)
        state = self._state
        if state.closing:
            raise JobDropped(f"in-memory queue {self._name!r} is stopping and takes no new jobs")
        if loop is not state.loop or not state.workers:
            self._start(loop)
        if not state.has_room():
            raise QueueFull(
                f"in-memory queue {self._name!r} is full ({state.max_size} jobs waiting); "
                f"await queue.add(...) to wait for room, or raise max_size"
            )
        job = Job(loop=loop)
        job.payload = payload
        job.state = QUEUED
        job.weight = weight
        job.worker = None
        job.add_done_callback(state.on_done)
        state.items.append(job)
        state.queued_weight += weight
        if state.parked and not state.paused:
            state.wake_worker()
        return job

    async def _wait_for_room(self) -> None:
        state = self._state
        putter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.putters.append(putter)
        try:
            await putter
        except asyncio.CancelledError:
            putter.cancel()
            with contextlib.suppress(ValueError):
                state.putters.remove(putter)
            # If we were woken for room we will not use, pass the wake-up on.
            if state.has_room():
                state.wake_putter()
            raise

    # -- control ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Start no new jobs until :meth:`resume`; running jobs carry on."""
        self._state.paused = True

    def resume(self) -> None:
        state = self._state
        state.paused = False
        for _ in range(min(len(state.items), len(state.parked))):
            state.wake_worker()

    def clear(self) -> int:
        """Drop every job waiting to start; their callers get ``JobDropped``. Returns how many."""
        dropped = self._state.drop_waiting("cleared")
        self._state.maybe_idle()
        return dropped

    async def on_idle(self) -> None:
        """Return once nothing is queued or running (a paused queue with work waits)."""
        if self._state.is_idle():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._state.idle_waiters.append(waiter)
        await waiter

    async def stop(self, timeout: float | None = None) -> int:
        """Take no new jobs, let queued and running ones finish for up to ``timeout``
        seconds (``None``: as long as they take), then drop the rest.

        Returns how many jobs were dropped (their callers get ``JobDropped``). A
        paused queue's waiting jobs are dropped at once. :meth:`force_stop` ends the
        grace period early. The queue can be used again.
        """
        state = self._state
        loop = state.loop
        if loop is None or not state.workers:
            return 0
        if state.stop_done is not None:  # another stop() is under way: wait for it
            await asyncio.shield(state.stop_done)
            return 0
        if loop.is_closed():  # the loop died under us; nothing can be finished now
            before = state.dropped
            self._rebind(running_loop(self._name, "stop"))
            return state.dropped - before
        if loop is not running_loop(self._name, "stop"):
            raise RuntimeError(f"in-memory queue {self._name!r} runs on another event loop")
        before = state.dropped
        state.closing = True
        state.stop_done = stop_done = loop.create_future()
        state.forced = forced = loop.create_future()
        workers = state.workers
        try:
            if state.paused:
                state.drop_waiting("stopped while paused")
            if timeout is None or timeout > 0:
                await self._drain(timeout, forced)
            state.drop_waiting("stopped")
            state.stopping = True
            for worker in workers:
                worker.retired = True  # whatever happens next, it takes no further job
                if worker.task is not None:
                    worker.task.cancel()
            if not forced.done():
                tasks = [w.task for w in workers if w.task is not None]
                ended = asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.wait((ended, forced), return_when=asyncio.FIRST_COMPLETED)
            if forced.done():
                # Stop waiting for the workers: drop what they hold now. A worker still
                # unwinding (a sync processor's thread goes on) ends by itself, retired.
                for worker in workers:
                    if worker.job is not None:
                        state.drop_running(worker.job)
        finally:
            for worker in workers:
                if worker.deadline is not None:
                    worker.deadline.close()
            state.workers = []
            state.parked.clear()
            state.stopping = False
            state.closing = False
            state.stop_done = state.forced = None
            stop_done.set_result(None)
            state.maybe_idle()
        dropped = state.dropped - before
        if dropped:
            how = "on a forced stop" if forced.done() else "on stop"
            logger.info("in-memory queue %r dropped %d job(s) %s", self._name, dropped, how)
        return dropped

    def force_stop(self) -> None:
        """End the grace period of a :meth:`stop` under way at once.

        Jobs waiting to start are dropped and running ones cancelled (a sync
        processor's thread cannot be interrupted: the stop just stops waiting for
        it); their callers get ``JobDropped`` and the pending ``stop()`` returns
        promptly, counting them. Without a stop under way this does nothing. Safe to
        call from any thread.
        """
        state = self._state
        loop = state.loop
        if state.forced is None or loop is None or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is not loop:
            loop.call_soon_threadsafe(self.force_stop)
            return
        if state.forced is not None and not state.forced.done():
            state.forced.set_result(None)

    async def _drain(self, timeout: float | None, forced: asyncio.Future[None]) -> None:
        """Wait until the queue is idle, ``timeout`` seconds pass, or the stop is forced."""
        state = self._state
        if state.is_idle():
            return
        idle: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.idle_waiters.append(idle)
        try:
            await asyncio.wait((idle, forced), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()

    def stats(self) -> MemoryQueueStats:
        state = self._state
        metrics = state.metrics
        return MemoryQueueStats(
            name=self._name,
            kind=self.kind,
            concurrency=self._concurrency,
            paused=state.paused,
            queued=state.waiting(),
            running=state.running,
            completed=state.completed,
            failed=state.failed,
            timed_out=state.timed_out,
            cancelled=state.cancelled,
            dropped=state.dropped,
            mean_duration=metrics.mean(),
            p95_duration=metrics.percentile(95),
            throughput=metrics.throughput(state.monotonic()),
        )

    # -- binding ----------------------------------------------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._state.loop:
            self._rebind(loop)
        start_workers(self._state, loop, self._concurrency)

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.busy_elsewhere(loop):
            raise RuntimeError(
                f"in-memory queue {self._name!r} is busy on another event loop; "
                f"use add_threadsafe() from other threads, or stop() it first"
            )
        self._state.forget(loop)
