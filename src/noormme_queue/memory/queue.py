"""InMemoryQueue: run jobs in this process with bounded concurrency.

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
- ``limiter``: another :class:`~noormme_queue.pacing.StartPacer` every start
  must also obey (``RateLimitedQueue`` passes its per-minute limiter here).
- ``monotonic``: the clock for pacing and statistics, in seconds (tests pin it).

A caller that stops waiting (its task is cancelled, or it cancels the future)
gives its place up: a waiting job is skipped, a running one is cancelled.

The queue attaches to the event loop it is first used on and is bound to that
loop while it has work; after ``stop()`` it may be used again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from ..core.config import QueueConfig
from ..core.errors import ConfigError, JobDropped, QueueError, QueueFull
from ._calls import as_async_processor, loop_for_other_threads, no_processor, running_loop
from .metrics import RunMetrics
from .pacing import IntervalPacer, StartPacer, combine_pacers
from .stats import MemoryQueueStats
from .timeouts import Deadline, has_timeout, timeout_error

logger = logging.getLogger("noormme_queue.memory")

P = TypeVar("P")
R = TypeVar("R")

_DEFAULTS = QueueConfig()
DEFAULT_CONCURRENCY = _DEFAULTS.in_memory_concurrency
DEFAULT_INTERVAL = _DEFAULTS.in_memory_interval
DEFAULT_TIMEOUT: float | None = _DEFAULTS.in_memory_timeout

# Where a job is. Jobs given up while waiting stay in the deque as ABANDONED
# (removing them would cost O(n)); workers skip them.
_QUEUED, _ABANDONED, _HELD, _RUNNING, _FINISHED = range(5)


class _Job(asyncio.Future[Any]):
    """A queued job is its own future: the done callback gets the job back for free."""

    __slots__ = ("payload", "state", "weight", "worker")
    payload: Any
    state: int
    weight: int
    worker: _Worker | None


# Why a worker's task was cancelled by the queue itself.
_NO_INTERRUPT, _CALLER_LEFT, _TIMED_OUT = range(3)


class _Worker:
    __slots__ = ("deadline", "interrupt", "job", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.job: _Job | None = None  # held (waiting for its start time) or running
        self.interrupt = _NO_INTERRUPT
        self.deadline: Deadline | None = None  # only when the queue has a timeout


async def _missing_processor(payload: Any) -> Any:
    raise AssertionError("unreachable: jobs are refused until a processor is set")


def validate_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    return concurrency


def validate_interval(interval: float) -> float:
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ConfigError(f"interval must be a number of seconds >= 0, got {interval!r}")
    if not (math.isfinite(interval) and interval >= 0):
        raise ConfigError(f"interval must be a number of seconds >= 0, got {interval!r}")
    return float(interval)


def validate_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ConfigError(f"timeout must be seconds >= 0 or None, got {timeout!r}")
    return float(timeout) if has_timeout(timeout) else None


def validate_max_size(max_size: int | None) -> int | None:
    if max_size is None:
        return None
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ConfigError(f"max_size must be a whole number >= 1 or None, got {max_size!r}")
    return max_size


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
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a queue name must be a non-empty string, got {name!r}")
        self._name = name
        self._concurrency = validate_concurrency(concurrency)
        self._interval = validate_interval(interval)
        self._timeout = validate_timeout(timeout)
        self._max_size = validate_max_size(max_size)
        # interval=0 and no limiter: no pacer, so the hot path skips pacing entirely.
        self._pacer = combine_pacers(
            IntervalPacer(self._interval) if self._interval > 0 else None, limiter
        )
        self._monotonic = monotonic
        self._what = f"a job in in-memory queue {name!r}"
        self._processor: Callable[..., Any] | None = None
        self._call: Callable[[Any], Awaitable[Any]] = _missing_processor
        if processor is not None:
            self.set_processor(processor)

        self._metrics = RunMetrics()
        self._completed = self._failed = self._timed_out = self._cancelled = self._dropped = 0

        self._items: deque[_Job] = deque()
        self._abandoned = 0  # ABANDONED jobs still in _items
        self._queued_weight = 0  # weights of QUEUED jobs
        self._held = 0  # weight of jobs waiting for their start time
        self._running = 0  # weight of running jobs
        self._workers: list[_Worker] = []
        self._parked: deque[asyncio.Future[None]] = deque()  # idle workers
        self._putters: deque[asyncio.Future[None]] = deque()  # adds waiting for room
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._paused = False
        self._closing = False  # stop() in progress: no new jobs
        self._stopping = False  # stop() is cancelling the workers
        self._stop_done: asyncio.Future[None] | None = None  # set while stop() runs
        self._on_done = self._on_job_done  # one bound method, added and removed per job
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()

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
        return self._timeout

    @property
    def max_size(self) -> int | None:
        return self._max_size

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def has_processor(self) -> bool:
        return self._processor is not None

    @property
    def processor(self) -> Callable[[Any], Any] | None:
        return self._processor

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._name!r} concurrency={self._concurrency} "
            f"queued={self._queued_weight + self._held} running={self._running}>"
        )

    # -- configuration ----------------------------------------------------------------------

    def set_processor(self, processor: Callable[[P], Awaitable[R]] | Callable[[P], R]) -> None:
        """Run jobs with ``processor(payload)``: async, or sync (run in a worker thread)."""
        self._call = as_async_processor(processor)
        self._processor = processor

    def attach(self) -> None:
        """Remember the running event loop, so other threads can ``add_threadsafe``."""
        loop = running_loop(self._name, "attach")
        if loop is not self._loop:
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
        loop = loop_for_other_threads(self._loop, self._name)
        return asyncio.run_coroutine_threadsafe(self.add(payload), loop)

    def _submit(self, payload: Any, weight: int) -> _Job:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = running_loop(self._name, "add_nowait")  # raises, explaining
        if self._processor is None:
            raise no_processor(self._name)
        if self._closing:
            raise JobDropped(f"in-memory queue {self._name!r} is stopping and takes no new jobs")
        if loop is not self._loop or not self._workers:
            self._start(loop)
        if not self._has_room():
            raise QueueFull(
                f"in-memory queue {self._name!r} is full ({self._max_size} jobs waiting); "
                f"await queue.add(...) to wait for room, or raise max_size"
            )
        job = _Job(loop=loop)
        job.payload = payload
        job.state = _QUEUED
        job.weight = weight
        job.worker = None
        job.add_done_callback(self._on_done)
        self._items.append(job)
        self._queued_weight += weight
        if self._parked and not self._paused:
            self._wake_worker()
        return job

    async def _wait_for_room(self) -> None:
        putter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._putters.append(putter)
        try:
            await putter
        except asyncio.CancelledError:
            putter.cancel()
            with contextlib.suppress(ValueError):
                self._putters.remove(putter)
            # If we were woken for room we will not use, pass the wake-up on.
            if self._has_room():
                self._wake_putter()
            raise

    # -- control ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Start no new jobs until :meth:`resume`; running jobs carry on."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        for _ in range(min(len(self._items), len(self._parked))):
            self._wake_worker()

    def clear(self) -> int:
        """Drop every job waiting to start; their callers get ``JobDropped``. Returns how many."""
        dropped = self._drop_waiting("cleared")
        self._maybe_idle()
        return dropped

    async def on_idle(self) -> None:
        """Return once nothing is queued or running (a paused queue with work waits)."""
        if self._is_idle():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle_waiters.append(waiter)
        await waiter

    async def stop(self, timeout: float | None = None) -> int:
        """Take no new jobs, let queued and running ones finish for up to ``timeout``
        seconds (``None``: as long as they take), then drop the rest.

        Returns how many jobs were dropped (their callers get ``JobDropped``). A
        paused queue's waiting jobs are dropped at once. The queue can be used again.
        """
        loop = self._loop
        if loop is None or not self._workers:
            return 0
        if self._stop_done is not None:  # another stop() is under way: wait for it
            await asyncio.shield(self._stop_done)
            return 0
        if loop.is_closed():  # the loop died under us; nothing can be finished now
            before = self._dropped
            self._rebind(running_loop(self._name, "stop"))
            return self._dropped - before
        if loop is not running_loop(self._name, "stop"):
            raise RuntimeError(f"in-memory queue {self._name!r} runs on another event loop")
        before = self._dropped
        self._closing = True
        self._stop_done = loop.create_future()
        try:
            if self._paused:
                self._drop_waiting("stopped while paused")
            if timeout is None or timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self.on_idle()
            self._drop_waiting("stopped")
            self._stopping = True
            tasks = [w.task for w in self._workers if w.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for worker in self._workers:
                if worker.deadline is not None:
                    worker.deadline.close()
            self._workers = []
            self._parked.clear()
            self._stopping = False
            self._closing = False
            self._stop_done.set_result(None)
            self._stop_done = None
            self._maybe_idle()
        dropped = self._dropped - before
        if dropped:
            logger.info("in-memory queue %r dropped %d job(s) on stop", self._name, dropped)
        return dropped

    def stats(self) -> MemoryQueueStats:
        metrics = self._metrics
        return MemoryQueueStats(
            name=self._name,
            kind=self.kind,
            concurrency=self._concurrency,
            paused=self._paused,
            queued=self._queued_weight + self._held,
            running=self._running,
            completed=self._completed,
            failed=self._failed,
            timed_out=self._timed_out,
            cancelled=self._cancelled,
            dropped=self._dropped,
            mean_duration=metrics.mean(),
            p95_duration=metrics.percentile(95),
            throughput=metrics.throughput(self._monotonic()),
        )

    # -- workers ----------------------------------------------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            self._rebind(loop)
        for index in range(self._concurrency):
            worker = _Worker()
            if self._timeout is not None:
                worker.deadline = Deadline(loop, functools.partial(self._on_deadline, worker))
            worker.task = loop.create_task(
                self._work(worker), name=f"noormme-queue:{self._name}:{index}"
            )
            self._workers.append(worker)

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        old = self._loop
        if old is not None and not old.is_closed() and self._workers_alive():
            raise RuntimeError(
                f"in-memory queue {self._name!r} is busy on another event loop; "
                f"use add_threadsafe() from other threads, or stop() it first"
            )
        # Anything left from a closed loop can never finish: count it as dropped.
        self._dropped += self._queued_weight + self._held + self._running
        self._items.clear()
        self._abandoned = self._queued_weight = self._held = self._running = 0
        self._workers = []
        self._parked.clear()
        self._putters.clear()
        self._idle_waiters = []
        self._loop = loop

    def _workers_alive(self) -> bool:
        return any(w.task is not None and not w.task.done() for w in self._workers)

    async def _work(self, worker: _Worker) -> None:
        # The hot path: one iteration per job, no task or timer created per job.
        items = self._items
        monotonic = self._monotonic
        record = self._metrics.record
        on_done = self._on_done
        deadline = worker.deadline
        timeout = self._timeout
        while True:
            if not items or self._paused:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._parked.append(waiter)
                await waiter
                continue
            job = items.popleft()
            if job.state != _QUEUED:  # ABANDONED: already counted, its room already given back
                self._abandoned -= 1
                continue
            weight = job.weight
            self._queued_weight -= weight
            if self._putters:
                self._wake_putter()
            if job.done():  # cancelled; its done callback has not run yet
                job.state = _FINISHED
                self._cancelled += weight
                self._maybe_idle()
                continue
            if self._pacer is not None and not await self._wait_for_start(worker, job):
                continue

            job.state = _RUNNING
            job.worker = worker
            worker.job = job
            self._running += weight
            started = monotonic()
            if deadline is not None and timeout is not None:
                deadline.start(timeout)
            try:
                result = await self._call(job.payload)
            except asyncio.CancelledError as cancelled:
                self._on_cancelled(worker, job, started, cancelled)
            except Exception as error:
                self._on_failed(worker, job, started, error)
            else:
                self._completed += weight
                record(started, monotonic(), weight)
                job.remove_done_callback(on_done)
                if not job.done():
                    job.set_result(result)
            finally:
                if deadline is not None:
                    deadline.clear()
                job.state = _FINISHED
                worker.job = None
                self._running -= weight
                if worker.interrupt:
                    self._acknowledge_interrupt(worker)
                if not self._running and self._idle_waiters:
                    self._maybe_idle()

    async def _wait_for_start(self, worker: _Worker, job: _Job) -> bool:
        """Wait until the pacer lets ``job`` start; ``False`` if it should not start now.

        The start is committed at the moment the job really starts (not when the
        wait began), so the pacing guarantee holds for actual start times.
        """
        pacer = self._pacer
        assert pacer is not None
        now = self._monotonic()
        start_at = pacer.earliest(now)
        if start_at > now:
            job.state = _HELD
            job.worker = worker
            worker.job = job
            self._held += job.weight
            try:
                while start_at > now:  # another worker may have taken the slot meanwhile
                    await asyncio.sleep(start_at - now)
                    now = self._monotonic()
                    start_at = pacer.earliest(now)
            except asyncio.CancelledError:
                if worker.interrupt != _CALLER_LEFT:
                    self._drop_running(job)
                    raise
                self._cancelled += job.weight
                job.state = _FINISHED
                return False
            finally:
                worker.job = None
                self._held -= job.weight
                if worker.interrupt:
                    self._acknowledge_interrupt(worker)
            if job.done():  # cleared while it waited
                job.state = _FINISHED
                self._maybe_idle()
                return False
            if self._paused:  # back to the front: it keeps its place
                job.state = _QUEUED
                self._items.appendleft(job)
                self._queued_weight += job.weight
                return False
        pacer.record(now)
        return True

    def _on_cancelled(
        self, worker: _Worker, job: _Job, started: float, cancelled: asyncio.CancelledError
    ) -> None:
        if worker.interrupt == _CALLER_LEFT:  # not a failure: nobody wants the result
            self._cancelled += job.weight
        elif worker.interrupt == _TIMED_OUT:
            self._on_timed_out(job, started)
        elif self._stopping or (worker.task is not None and worker.task.cancelling()):
            self._drop_running(job)  # stop() or the loop shutting down
            raise cancelled
        else:
            error = QueueError(f"{self._what} raised CancelledError without being cancelled")
            error.__cause__ = cancelled
            self._on_failed(worker, job, started, error)

    def _on_failed(self, worker: _Worker, job: _Job, started: float, error: Exception) -> None:
        if worker.interrupt == _TIMED_OUT:  # the processor turned our cancel into an error
            self._on_timed_out(job, started)
            return
        self._failed += job.weight
        self._metrics.record(started, self._monotonic(), job.weight)
        logger.debug("%s failed: %r", self._what, error)
        self._settle(job, error=error)

    def _on_timed_out(self, job: _Job, started: float) -> None:
        assert self._timeout is not None
        error = timeout_error(self._what, self._timeout)
        self._timed_out += job.weight
        self._metrics.record(started, self._monotonic(), job.weight)
        logger.warning("%s", error)
        self._settle(job, error=error)

    def _on_deadline(self, worker: _Worker) -> None:
        job = worker.job
        if job is not None and job.state == _RUNNING and not worker.interrupt:
            self._interrupt(worker, _TIMED_OUT)

    def _interrupt(self, worker: _Worker, reason: int) -> None:
        assert worker.task is not None
        worker.interrupt = reason
        worker.task.cancel()

    def _acknowledge_interrupt(self, worker: _Worker) -> None:
        """Take back the cancel we sent; keep any other cancel (stop) that is pending."""
        worker.interrupt = _NO_INTERRUPT
        assert worker.task is not None
        if worker.task.uncancel() > 0 or self._stopping:
            raise asyncio.CancelledError

    # -- bookkeeping ------------------------------------------------------------------------

    def _on_job_done(self, future: asyncio.Future[Any]) -> None:
        """A job's future finished early: its caller cancelled it."""
        if not future.cancelled():
            return
        job = cast(_Job, future)
        if job.state == _QUEUED:
            job.state = _ABANDONED
            self._abandoned += 1
            self._queued_weight -= job.weight
            self._cancelled += job.weight
            self._wake_putter()
            self._maybe_idle()
        elif job.state in (_HELD, _RUNNING):
            worker = job.worker
            if worker is not None and worker.job is job and not worker.interrupt:
                self._interrupt(worker, _CALLER_LEFT)

    def _settle(self, job: _Job, *, error: BaseException) -> None:
        job.remove_done_callback(self._on_done)
        if not job.done():
            job.set_exception(error)

    def _drop_running(self, job: _Job) -> None:
        if not job.done():
            self._dropped += job.weight
            self._settle(
                job,
                error=JobDropped(f"in-memory queue {self._name!r} stopped before the job ended"),
            )
        job.state = _FINISHED

    def _drop_waiting(self, why: str) -> int:
        """Reject every job waiting to start (queued or held); return their weight."""
        dropped = 0
        waiting = [job for job in self._items if job.state == _QUEUED]
        waiting += [w.job for w in self._workers if w.job is not None and w.job.state == _HELD]
        for job in waiting:
            if not job.done():
                dropped += job.weight
                self._settle(
                    job, error=JobDropped(f"in-memory queue {self._name!r} was {why}; job dropped")
                )
            job.state = _FINISHED
        self._items.clear()
        self._abandoned = 0
        self._queued_weight = 0
        self._dropped += dropped
        while self._putters:  # room for everyone: let them try again
            self._wake_putter()
        return dropped

    def _has_room(self) -> bool:
        return self._max_size is None or len(self._items) - self._abandoned < self._max_size

    def _wake_worker(self) -> None:
        while self._parked:
            waiter = self._parked.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_putter(self) -> None:
        while self._putters:
            putter = self._putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return

    def _is_idle(self) -> bool:
        return self._running == 0 and self._held == 0 and self._queued_weight == 0

    def _maybe_idle(self) -> None:
        if self._idle_waiters and self._is_idle():
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
