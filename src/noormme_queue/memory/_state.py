"""The books one in-memory queue keeps, shared by its face and its workers.

:class:`QueueState` is plain state with the bookkeeping rules that keep it
consistent: the waiting line, the weights queued, held and running, the
totals, the parked workers, the adds waiting for room and the idle waiters.
Two modules work on it, and only they do: ``queue.py`` (the public face:
adding, control, stop, stats) and ``_workers.py`` (the worker coroutines:
taking, pacing, running and settling jobs). Its members are public so that
each side's reach into the other is visible in the code, not hidden behind
underscores.

A job's *weight* is how many jobs it counts as: 1, or a batch's item count.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ..core.errors import JobDropped
from .metrics import RunMetrics
from .pacing import StartPacer
from .timeouts import Deadline

# Where a job is. Jobs given up while waiting stay in the deque as ABANDONED
# (removing them would cost O(n)); workers skip them.
QUEUED, ABANDONED, HELD, RUNNING, FINISHED = range(5)

# Why a worker's task was cancelled by the queue itself.
NO_INTERRUPT, CALLER_LEFT, TIMED_OUT = range(3)


class Job(asyncio.Future[Any]):
    """A queued job is its own future: the done callback gets the job back for free."""

    __slots__ = ("payload", "state", "weight", "worker")
    payload: Any
    state: int
    weight: int
    worker: Worker | None


class Worker:
    """One long-lived worker coroutine of a queue and the job it holds."""

    __slots__ = ("deadline", "interrupt", "job", "retired", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.job: Job | None = None  # held (waiting for its start time) or running
        self.interrupt = NO_INTERRUPT
        self.deadline: Deadline | None = None  # only when the queue has a timeout
        self.retired = False  # stop() let it go: it takes no further job

    def cancel_for(self, reason: int) -> None:
        """Cancel the job this worker holds, remembering that the queue did it and why."""
        assert self.task is not None
        self.interrupt = reason
        self.task.cancel()


async def missing_processor(payload: Any) -> Any:
    raise AssertionError("unreachable: jobs are refused until a processor is set")


class QueueState:
    """Everything one queue knows; see the module docstring for who changes what."""

    __slots__ = (
        "abandoned",
        "call",
        "cancelled",
        "closing",
        "completed",
        "dropped",
        "failed",
        "forced",
        "held",
        "idle_waiters",
        "items",
        "loop",
        "max_size",
        "metrics",
        "monotonic",
        "name",
        "on_done",
        "pacer",
        "parked",
        "paused",
        "putters",
        "queued_weight",
        "running",
        "stop_done",
        "stopping",
        "timed_out",
        "timeout",
        "what",
        "workers",
    )

    def __init__(
        self,
        name: str,
        *,
        what: str,
        timeout: float | None,
        max_size: int | None,
        pacer: StartPacer | None,
        monotonic: Callable[[], float],
    ) -> None:
        self.name = name
        self.what = what  # names one job in messages: "a job in in-memory queue 'x'"
        self.timeout = timeout
        self.max_size = max_size
        self.pacer = pacer  # None: unpaced, and the hot path skips pacing entirely
        self.monotonic = monotonic
        self.call: Callable[[Any], Awaitable[Any]] = missing_processor
        self.metrics = RunMetrics()
        # Totals since the queue was created, in weight.
        self.completed = self.failed = self.timed_out = self.cancelled = self.dropped = 0
        self.items: deque[Job] = deque()
        self.abandoned = 0  # ABANDONED jobs still in items
        self.queued_weight = 0  # weights of QUEUED jobs
        self.held = 0  # weight of jobs waiting for their start time
        self.running = 0  # weight of running jobs
        self.workers: list[Worker] = []
        self.parked: deque[asyncio.Future[None]] = deque()  # idle workers
        self.putters: deque[asyncio.Future[None]] = deque()  # adds waiting for room
        self.idle_waiters: list[asyncio.Future[None]] = []
        self.paused = False
        self.closing = False  # stop() in progress: no new jobs
        self.stopping = False  # stop() is cancelling the workers
        self.stop_done: asyncio.Future[None] | None = None  # set while stop() runs
        self.forced: asyncio.Future[None] | None = None  # done once force_stop() was called
        self.on_done = self.on_job_done  # one bound method, added and removed per job
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- counts -----------------------------------------------------------------------------

    def waiting(self) -> int:
        """Weight of the jobs not started yet (queued, or held for their start time)."""
        return self.queued_weight + self.held

    def has_room(self) -> bool:
        return self.max_size is None or len(self.items) - self.abandoned < self.max_size

    def is_idle(self) -> bool:
        return self.running == 0 and self.held == 0 and self.queued_weight == 0

    def workers_alive(self) -> bool:
        return any(w.task is not None and not w.task.done() for w in self.workers)

    # -- settling ---------------------------------------------------------------------------

    def on_job_done(self, future: asyncio.Future[Any]) -> None:
        """A job's future finished early: its caller cancelled it."""
        if not future.cancelled():
            return
        job = cast(Job, future)
        if job.state == QUEUED:
            job.state = ABANDONED
            self.abandoned += 1
            self.queued_weight -= job.weight
            self.cancelled += job.weight
            self.wake_putter()
            self.maybe_idle()
        elif job.state in (HELD, RUNNING):
            worker = job.worker
            if worker is not None and worker.job is job and not worker.interrupt:
                worker.cancel_for(CALLER_LEFT)

    def settle(self, job: Job, *, error: BaseException) -> None:
        job.remove_done_callback(self.on_done)
        if not job.done():
            job.set_exception(error)

    def drop_running(self, job: Job) -> None:
        """Reject a held or running job because the queue stops; count it as dropped."""
        if not job.done():
            self.dropped += job.weight
            self.settle(
                job,
                error=JobDropped(f"in-memory queue {self.name!r} stopped before the job ended"),
            )
        job.state = FINISHED

    def drop_waiting(self, why: str) -> int:
        """Reject every job waiting to start (queued or held); return their weight."""
        dropped = 0
        waiting = [job for job in self.items if job.state == QUEUED]
        waiting += [w.job for w in self.workers if w.job is not None and w.job.state == HELD]
        for job in waiting:
            if not job.done():
                dropped += job.weight
                self.settle(
                    job, error=JobDropped(f"in-memory queue {self.name!r} was {why}; job dropped")
                )
            job.state = FINISHED
        self.items.clear()
        self.abandoned = 0
        self.queued_weight = 0
        self.dropped += dropped
        while self.putters:  # room for everyone: let them try again
            self.wake_putter()
        return dropped

    def forget(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to ``loop``; what was left on the old, closed loop can never finish and
        counts as dropped."""
        self.dropped += self.queued_weight + self.held + self.running
        self.items.clear()
        self.abandoned = self.queued_weight = self.held = self.running = 0
        self.workers = []
        self.parked.clear()
        self.putters.clear()
        self.idle_waiters = []
        self.loop = loop

    # -- waking -----------------------------------------------------------------------------

    def wake_worker(self) -> None:
        while self.parked:
            waiter = self.parked.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def wake_putter(self) -> None:
        while self.putters:
            putter = self.putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return

    def maybe_idle(self) -> None:
        if self.idle_waiters and self.is_idle():
            waiters, self.idle_waiters = self.idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
