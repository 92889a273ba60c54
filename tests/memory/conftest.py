"""Helpers for the in-memory queue tests: a recording processor and condition waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .. import waiting

DEADLINE = 5.0


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """tests/waiting.py's wait, with this folder's argument order and deadline."""
    await waiting.wait_until(predicate, timeout, what, poll=0.001)


async def settle_loop(rounds: int = 5) -> None:
    """Let every ready callback run, so a negative check sees the queue's steady state."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class Probe:
    """An async processor that records what it runs and holds jobs until released.

    A payload that is an exception instance is raised. ``release`` lets
    held jobs go on; ``cancelled`` lists payloads whose run was cancelled.
    """

    def __init__(self, *, hold: bool = False) -> None:
        self.started: list[Any] = []
        self.start_times: list[float] = []
        self.finished: list[Any] = []
        self.cancelled: list[Any] = []
        self.active = 0
        self.most_active = 0
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, payload: Any) -> Any:
        self.started.append(payload)
        self.start_times.append(time.monotonic())
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(payload)
            raise
        finally:
            self.active -= 1
        if isinstance(payload, BaseException):
            raise payload
        self.finished.append(payload)
        return ("done", payload)

    async def wait_started(self, count: int) -> None:
        await wait_until(lambda: len(self.started) >= count, f"{count} job(s) to start")
