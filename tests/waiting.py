"""The one way tests wait: for a condition, with a deadline, never for a fixed time.

``wait_until`` is for async tests (the predicate may be async too; the loop keeps running
between checks); ``wait_for`` is for sync tests (subprocesses, threads, a browser). Both
poll the same way and fail saying what they waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

POLL = 0.005  # seconds between checks


def _deadlines(timeout: float, what: object) -> Iterator[None]:
    """Yields while there is time left; then fails, naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() <= deadline:
        yield
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    what: str = "",
    *,
    poll: float = POLL,
) -> None:
    for _ in _deadlines(timeout, what or predicate):
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(poll)


def wait_for(
    predicate: Callable[[], bool], timeout: float = 10.0, what: str = "", *, poll: float = POLL
) -> None:
    for _ in _deadlines(timeout, what or predicate):
        if predicate():
            return
        time.sleep(poll)
