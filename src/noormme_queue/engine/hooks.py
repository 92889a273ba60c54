"""``on_complete`` and ``on_failure``: run once an outcome is saved, never before.

A hook that raises is logged and changes nothing: the job's outcome stands. Hooks run as
tasks of their own so a slow hook does not hold the worker's slot; stop gives the ones
under way the same grace as jobs, and a forced stop abandons them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ..core.job import Job, JobStatus, to_datetime
from ..store import Completed, Failed
from .binding import BoundHandler
from .outcomes import Settled

log = logging.getLogger("noormme_queue.worker")


class Hooks:
    def __init__(self, handlers: Mapping[str, BoundHandler], now: Callable[[], float]) -> None:
        self._handlers = handlers
        self._now = now
        self._tasks: set[asyncio.Task[None]] = set()

    def after(self, settled: Settled) -> None:
        """The hook a saved outcome calls for, if its handler has one."""
        outcome, job = settled.outcome, settled.job
        handler = self._handlers.get(job.type)
        if handler is None or not (handler.has_on_complete or handler.has_on_failure):
            return
        done_at = to_datetime(self._now())
        if isinstance(outcome, Completed) and handler.has_on_complete:
            final = dataclasses.replace(
                job,
                status=JobStatus.COMPLETED,
                result=settled.result,
                finished_at=done_at,
                history=(*job.history, outcome.attempt),
            )
            self._spawn(job, handler.on_complete(final))
        elif (
            isinstance(outcome, Failed)
            and outcome.retry_at is None
            and settled.error is not None
            and handler.has_on_failure
        ):
            final = dataclasses.replace(
                job,
                status=JobStatus.FAILED,
                error=outcome.attempt.error,
                finished_at=done_at,
                history=(*job.history, outcome.attempt),
            )
            self._spawn(job, handler.on_failure(final, settled.error))

    def failed_for_good(self, job: Job, error: BaseException) -> None:
        """``on_failure`` for a job that failed outside a handler run (its lease expired)."""
        handler = self._handlers.get(job.type)
        if handler is not None and handler.has_on_failure:
            self._spawn(job, handler.on_failure(job, error))

    async def wait(self, timeout: float) -> None:
        """Give the hooks under way up to ``timeout`` seconds, then abandon the rest."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()

    def abandon(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, job: Job, hook: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await hook
            except Exception:
                log.exception(
                    "job %s (%s): a completion hook raised; the job's outcome stands",
                    job.id,
                    job.type,
                )

        task = asyncio.create_task(run(), name=f"hooks of job {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
