"""A per-job timeout that cancels the job and says so.

``run_with_timeout`` awaits a job inside ``asyncio.timeout``: when time is up
the job is cancelled where it awaits and :class:`~noormme_queue.JobTimeout`
is raised. A ``TimeoutError`` the job raises on its own (an HTTP client's, say)
passes through unchanged, so callers can tell the two apart. ``None`` or ``0``
means no timeout and costs nothing.

A synchronous job running in a worker thread cannot be interrupted: on
timeout the caller is released with ``JobTimeout`` and the thread finishes
in the background, its result discarded.

:class:`Deadline` does the same for a long-lived worker running job after
job, without a timer per job (which would cost more than a quick job).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..core.errors import JobTimeout

T = TypeVar("T")


def has_timeout(timeout: float | None) -> bool:
    return timeout is not None and timeout > 0


async def run_with_timeout(awaitable: Awaitable[T], timeout: float | None, what: str) -> T:
    """Await ``awaitable``; past ``timeout`` seconds cancel it and raise ``JobTimeout``.

    ``what`` names the job in the message (``"a job in in-memory queue 'x'"``).
    """
    if timeout is None or not has_timeout(timeout):
        return await awaitable
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if not scope.expired():
            raise
        raise timeout_error(what, timeout) from None


def timeout_error(what: str, timeout: float) -> JobTimeout:
    return JobTimeout(f"{what} ran longer than its {timeout:g} s timeout and was cancelled")


class Deadline:
    """Deadlines for a stream of jobs run one after another, with one lazily re-armed timer.

    A long-lived worker calls ``start(timeout)`` as each job begins and
    ``clear()`` when it ends; if a job is still running at its deadline,
    ``on_expire()`` is called once (it cancels the job). Scheduling and
    cancelling a timer per job costs more than the jobs themselves when they
    are quick; here a timer fires at most once per deadline that passes and,
    finding a later job's deadline, is simply re-armed for it.
    """

    __slots__ = ("_armed_at", "_at", "_handle", "_loop", "_on_expire")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expire: Callable[[], object]) -> None:
        self._loop = loop
        self._on_expire = on_expire
        self._at: float | None = None
        self._armed_at = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self, timeout: float) -> None:
        at = self._loop.time() + timeout
        self._at = at
        if self._handle is None:
            self._arm(at)
        elif at < self._armed_at:  # a shorter timeout than the timer is set for
            self._handle.cancel()
            self._arm(at)

    def clear(self) -> None:
        self._at = None

    def close(self) -> None:
        self._at = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, at: float) -> None:
        self._armed_at = at
        self._handle = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        at = self._at
        if at is None:
            return
        # The loop judged `_armed_at` due; a deadline no later than it has passed too.
        if at <= self._armed_at:
            self._at = None
            self._on_expire()
        else:
            self._arm(at)
