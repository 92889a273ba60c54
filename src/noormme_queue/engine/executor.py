"""Running one attempt: call the handler, enforce the job's timeout, and say how it ended.

The executor knows nothing of the store or of retries: it returns what happened
(:class:`Returned`, :class:`Raised` or :class:`Interrupted`) and
:mod:`~noormme_queue.engine.outcomes` turns that into the record to save.

A sync handler runs on a pool thread (:mod:`~noormme_queue.core.threads`). A thread cannot
be interrupted, so a job whose sync handler timed out, or whose worker is stopping, is held
until the thread really returns (running it elsewhere meanwhile would run it twice at once);
only a forced stop lets the job go while the thread still runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import Token
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import JobTimeout
from ..core.job import JSON, Job
from ..core.progress import ProgressReporter, current_reporter
from ..core.threads import submit_sync
from .binding import BoundHandler

log = logging.getLogger("noormme_queue.worker")

CancelReason = Literal["cancelled", "shutdown", "lost"]
"""Why a running attempt was cancelled: by a person, by a stop, or because the store no
longer has the job as this worker's (cancelled elsewhere, or its lease expired)."""


@dataclass(frozen=True, slots=True)
class Returned:
    value: JSON


@dataclass(frozen=True, slots=True)
class Raised:
    error: BaseException
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Interrupted:
    reason: CancelReason


AttemptEnd = Returned | Raised | Interrupted

_STOPPED = {
    "cancelled": "was cancelled",
    "shutdown": "is being stopped",
    "lost": "is no longer this worker's",
}


async def run_attempt(
    handler: BoundHandler,
    job: Job,
    *,
    reporter: ProgressReporter,
    reason: Callable[[], CancelReason | None],
    forced: asyncio.Event,
) -> AttemptEnd:
    """Run ``handler`` on ``job`` once. ``reason()`` tells, after a cancellation, why it came
    (``None``: not from the worker, so it propagates); ``forced`` is set by a forced stop."""
    thread: concurrent.futures.Future[Any] | None = None
    deadline: asyncio.Timeout | None = None
    token: Token[ProgressReporter | None] = current_reporter.set(reporter)
    try:
        if handler.is_async:
            call: Awaitable[Any] = handler.process(job)
        else:
            thread = submit_sync(handler.call_sync, job)  # the reporter goes along
            call = asyncio.wrap_future(thread)
        if job.timeout:
            async with asyncio.timeout(job.timeout) as deadline:
                result = await call
        else:
            result = await call
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            result = await result
        return Returned(result)
    except asyncio.CancelledError:
        why = reason()
        if why is None:
            raise
        if thread is not None and not thread.done():
            log.info(
                "job %s (%s) %s while its sync handler runs; a thread cannot be "
                "interrupted, so the job is held until it returns",
                job.id,
                job.type,
                _STOPPED[why],
            )
        if thread is not None and await _join(thread, forced) and why == "shutdown":
            return _from_thread(thread)  # it finished after all: keep its real outcome
        return Interrupted(why)
    except (Exception, SystemExit) as exc:  # a handler's sys.exit() fails its job, not the worker
        timed_out = isinstance(exc, TimeoutError) and deadline is not None and deadline.expired()
        if thread is not None and not thread.done():
            log.warning(
                "job %s (%s) %s; its sync handler cannot be interrupted, so the job is held "
                "until the thread returns",
                job.id,
                job.type,
                f"ran past its timeout of {job.timeout}s" if timed_out else "failed",
            )
        if thread is not None:
            await _join(thread, forced)  # hold the job until its thread is really done
        if timed_out:
            message = f"job {job.id} ran longer than its timeout of {job.timeout}s"
            return Raised(JobTimeout(message), timed_out=True)
        return Raised(exc)
    finally:
        current_reporter.reset(token)


async def _join(thread: concurrent.futures.Future[Any], forced: asyncio.Event) -> bool:
    """Wait until a sync handler's thread ends; ``False`` if a forced stop came first."""
    if thread.done():
        return True
    ended = asyncio.ensure_future(asyncio.wrap_future(thread))
    force = asyncio.ensure_future(forced.wait())
    try:
        await asyncio.wait({ended, force}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        force.cancel()
        ended.cancel()
    return thread.done()


def _from_thread(thread: concurrent.futures.Future[Any]) -> AttemptEnd:
    error = thread.exception()
    return Returned(thread.result()) if error is None else Raised(error)
