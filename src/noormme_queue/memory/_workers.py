"""The worker coroutines of an in-memory queue: take, pace, run and settle jobs.

A queue runs ``concurrency`` long-lived workers (:func:`start_workers`); each
takes jobs first in, first out from the queue's :class:`~._state.QueueState`,
waits for the pacer when there is one, awaits the processor and settles the
job's future. No task or timer is created per job: that is the hot path.

The queue cancels a worker's task for one of three reasons, kept on the
worker so the worker can tell them apart when the ``CancelledError`` arrives:

- the caller left (it cancelled the job's future): the job counts as
  cancelled and the worker takes the next one;
- the job timed out (its :class:`~.timeouts.Deadline` fired): the job fails
  with ``JobTimeout`` and the worker goes on;
- ``stop()`` (no reason recorded): the job is dropped and the worker ends.

A sync processor runs on a pool thread (``_calls.as_async_processor``); a
cancel stops the wait for it, never the thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from ..core.errors import QueueError
from ._state import (
    CALLER_LEFT,
    FINISHED,
    HELD,
    NO_INTERRUPT,
    QUEUED,
    RUNNING,
    TIMED_OUT,
    Job,
    QueueState,
    Worker,
)
from .timeouts import Deadline, timeout_error

logger = logging.getLogger("noormme_queue.memory")


def start_workers(state: QueueState, loop: asyncio.AbstractEventLoop, concurrency: int) -> None:
    for index in range(concurrency):
        worker = Worker()
        if state.timeout is not None:
            worker.deadline = Deadline(loop, functools.partial(_on_deadline, worker))
        worker.task = loop.create_task(
            work(state, worker), name=f"noormme-queue:{state.name}:{index}"
        )
        state.workers.append(worker)


async def work(state: QueueState, worker: Worker) -> None:
    # The hot path: one iteration per job, no task or timer created per job.
    items = state.items
    monotonic = state.monotonic
    record = state.metrics.record
    on_done = state.on_done
    deadline = worker.deadline
    timeout = state.timeout
    while not worker.retired:
        if not items or state.paused:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            state.parked.append(waiter)
            await waiter
            continue
        job = items.popleft()
        if job.state != QUEUED:  # ABANDONED: already counted, its room already given back
            state.abandoned -= 1
            continue
        weight = job.weight
        state.queued_weight -= weight
        if state.putters:
            state.wake_putter()
        if job.done():  # cancelled; its done callback has not run yet
            job.state = FINISHED
            state.cancelled += weight
            state.maybe_idle()
            continue
        if state.pacer is not None and not await _wait_for_start(state, worker, job):
            continue

        job.state = RUNNING
        job.worker = worker
        worker.job = job
        state.running += weight
        started = monotonic()
        if deadline is not None and timeout is not None:
            deadline.start(timeout)
        try:
            result = await state.call(job.payload)
        except asyncio.CancelledError as cancelled:
            _on_cancelled(state, worker, job, started, cancelled)
        except Exception as error:
            _on_failed(state, worker, job, started, error)
        else:
            record(started, monotonic(), weight)
            job.remove_done_callback(on_done)
            if not job.done():
                job.set_result(result)
                state.completed += weight
            elif job.cancelled():  # its caller left and the processor ignored the cancel
                state.cancelled += weight
            # else a forced stop dropped it, and counted it then
        finally:
            if deadline is not None:
                deadline.clear()
            job.state = FINISHED
            worker.job = None
            state.running -= weight
            if worker.interrupt:
                _acknowledge_interrupt(state, worker)
            if not state.running and state.idle_waiters:
                state.maybe_idle()


async def _wait_for_start(state: QueueState, worker: Worker, job: Job) -> bool:
    """Wait until the pacer lets ``job`` start; ``False`` if it should not start now.

    The start is committed at the moment the job really starts (not when the
    wait began), so the pacing guarantee holds for actual start times.
    """
    pacer = state.pacer
    assert pacer is not None
    now = state.monotonic()
    start_at = pacer.earliest(now)
    if start_at > now:
        job.state = HELD
        job.worker = worker
        worker.job = job
        state.held += job.weight
        try:
            while start_at > now:  # another worker may have taken the slot meanwhile
                await asyncio.sleep(start_at - now)
                now = state.monotonic()
                start_at = pacer.earliest(now)
        except asyncio.CancelledError:
            if worker.interrupt != CALLER_LEFT:
                state.drop_running(job)
                raise
            state.cancelled += job.weight
            job.state = FINISHED
            return False
        finally:
            worker.job = None
            state.held -= job.weight
            if worker.interrupt:
                _acknowledge_interrupt(state, worker)
        if job.done():  # cleared while it waited
            job.state = FINISHED
            state.maybe_idle()
            return False
        if state.paused:  # back to the front: it keeps its place
            job.state = QUEUED
            state.items.appendleft(job)
            state.queued_weight += job.weight
            return False
    pacer.record(now)
    return True


def _on_cancelled(
    state: QueueState, worker: Worker, job: Job, started: float, cancelled: asyncio.CancelledError
) -> None:
    if worker.interrupt == CALLER_LEFT:  # not a failure: nobody wants the result
        state.cancelled += job.weight
    elif worker.interrupt == TIMED_OUT:
        _on_timed_out(state, job, started)
    elif state.stopping or (worker.task is not None and worker.task.cancelling()):
        state.drop_running(job)  # stop() or the loop shutting down
        raise cancelled
    else:
        error = QueueError(f"{state.what} raised CancelledError without being cancelled")
        error.__cause__ = cancelled
        _on_failed(state, worker, job, started, error)


def _on_failed(
    state: QueueState, worker: Worker, job: Job, started: float, error: Exception
) -> None:
    if worker.interrupt == TIMED_OUT:  # the processor turned our cancel into an error
        _on_timed_out(state, job, started)
        return
    state.failed += job.weight
    state.metrics.record(started, state.monotonic(), job.weight)
    logger.debug("%s failed: %r", state.what, error)
    state.settle(job, error=error)


def _on_timed_out(state: QueueState, job: Job, started: float) -> None:
    assert state.timeout is not None
    error = timeout_error(state.what, state.timeout)
    state.timed_out += job.weight
    state.metrics.record(started, state.monotonic(), job.weight)
    logger.warning("%s", error)
    state.settle(job, error=error)


def _on_deadline(worker: Worker) -> None:
    job = worker.job
    if job is not None and job.state == RUNNING and not worker.interrupt:
        worker.cancel_for(TIMED_OUT)


def _acknowledge_interrupt(state: QueueState, worker: Worker) -> None:
    """Take back the cancel we sent; keep any other cancel (stop) that is pending."""
    worker.interrupt = NO_INTERRUPT
    assert worker.task is not None
    if worker.task.uncancel() > 0 or state.stopping:
        raise asyncio.CancelledError
