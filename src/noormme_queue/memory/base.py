"""What every in-memory queue offers, whatever its kind."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .stats import MemoryQueueStats


@runtime_checkable
class MemoryQueue(Protocol):
    """The face shared by InMemoryQueue, RateLimitedQueue and BatchQueue."""

    kind: str

    @property
    def name(self) -> str: ...

    @property
    def concurrency(self) -> int: ...

    @property
    def paused(self) -> bool: ...

    @property
    def has_processor(self) -> bool: ...

    @property
    def processor(self) -> Callable[[Any], Any] | None:
        """The function given to ``set_processor`` (``None`` until then)."""
        ...

    def set_processor(self, processor: Callable[[Any], Any]) -> None: ...

    def attach(self) -> None: ...

    async def add(self, payload: Any) -> Any: ...

    def add_nowait(self, payload: Any) -> asyncio.Future[Any]: ...

    def add_threadsafe(self, payload: Any) -> concurrent.futures.Future[Any]: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def clear(self) -> int: ...

    async def on_idle(self) -> None: ...

    def stats(self) -> MemoryQueueStats: ...

    async def stop(self, timeout: float | None = None) -> int: ...

    def force_stop(self) -> None:
        """End the grace period of a ``stop()`` under way; nothing if none is."""
        ...
