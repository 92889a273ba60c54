"""Tier 1 on the facade: the part of :class:`~noormme_queue.QueueManager` that makes and
finds in-memory queues, attached to the manager's loop once it runs."""

from __future__ import annotations

import asyncio
from typing import Any

from .memory import BatchQueue, InMemoryQueue, MemoryQueue, MemoryQueues, RateLimitedQueue


class MemoryControl:
    memory: MemoryQueues
    _loop: asyncio.AbstractEventLoop | None

    def get_in_memory_queue(self, name: str) -> MemoryQueue:
        """A queue by name (the built-ins: ``api-calls``, ``image-processing``, ``email-sending``,
        ``webhook-delivery``, ``batch-processing``); unknown names raise ``UnknownQueue``."""
        return self.memory.get(name)

    def create_in_memory_queue(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        max_size: int | None = None,
    ) -> InMemoryQueue[Any, Any]:
        """A new queue; ``None`` takes the ``QUEUE_IN_MEMORY_*`` default, ``0`` turns pacing or
        the timeout off."""
        queue = self.memory.create(
            name, concurrency=concurrency, interval=interval, timeout=timeout, max_size=max_size
        )
        self._attach_if_running(queue)
        return queue

    def create_rate_limited_queue(
        self, name: str, per_minute: int, *, burst: int | None = None
    ) -> RateLimitedQueue[Any, Any]:
        """At most ``per_minute`` job starts in any 60-second window."""
        queue = self.memory.create_rate_limited(name, per_minute, burst=burst)
        self._attach_if_running(queue)
        return queue

    def create_batch_queue(self, name: str, size: int, max_wait: float) -> BatchQueue[Any, Any]:
        """Items are processed in lists: at ``size`` items or ``max_wait`` seconds after the
        first, whichever comes first."""
        queue = self.memory.create_batch(name, size, max_wait)
        self._attach_if_running(queue)
        return queue

    def get_all_in_memory_stats(self) -> dict[str, dict[str, Any]]:
        return self.memory.all_stats()

    def _attach_if_running(self, queue: MemoryQueue) -> None:
        if self._loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                return
            if running is self._loop:
                queue.attach()
