"""MemoryQueues: the named in-memory queues a QueueManager owns.

``None`` for ``concurrency``, ``interval`` or ``timeout`` means the config's
``in_memory_concurrency``, ``in_memory_interval`` or ``in_memory_timeout``;
pass ``0`` for an unpaced queue or one without a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core.config import QueueConfig
from ..core.errors import DuplicateQueue, UnknownQueue
from .base import MemoryQueue
from .batch import BatchQueue
from .queue import InMemoryQueue
from .rate_limit import RateLimitedQueue

logger = logging.getLogger("noormme_queue.memory")


class MemoryQueues:
    def __init__(
        self,
        defaults: QueueConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._defaults = defaults if defaults is not None else QueueConfig()
        self._monotonic = monotonic
        self._queues: dict[str, MemoryQueue] = {}
        self._replaceable: set[str] = set()
        self._stopping = False  # a stop() is under way
        self._forced = False  # force_stop() was called during it

    # -- lookup -----------------------------------------------------------------------------

    def get(self, name: str) -> MemoryQueue:
        try:
            return self._queues[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self.names()) or "none yet"
            raise UnknownQueue(
                f"no in-memory queue is named {name!r}; the queues are: {known}. "
                f"Create one with create_in_memory_queue({name!r}, ...)"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._queues)

    def __contains__(self, name: object) -> bool:
        return name in self._queues

    def __len__(self) -> int:
        return len(self._queues)

    # -- creation ---------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        max_size: int | None = None,
        processor: Callable[[Any], Any] | None = None,
    ) -> InMemoryQueue[Any, Any]:
        processor = processor or self._check_free(name)
        queue: InMemoryQueue[Any, Any] = InMemoryQueue(
            name,
            concurrency=self._concurrency(concurrency),
            interval=self._interval(interval),
            timeout=self._timeout(timeout),
            max_size=max_size,
            processor=processor,
            monotonic=self._monotonic,
        )
        self._queues[name] = queue
        return queue

    def create_rate_limited(
        self,
        name: str,
        per_minute: int,
        *,
        burst: int | None = None,
        concurrency: int | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        max_size: int | None = None,
        processor: Callable[[Any], Any] | None = None,
    ) -> RateLimitedQueue[Any, Any]:
        processor = processor or self._check_free(name)
        queue: RateLimitedQueue[Any, Any] = RateLimitedQueue(
            name,
            per_minute,
            burst=burst,
            concurrency=self._concurrency(concurrency),
            interval=self._interval(interval),
            timeout=self._timeout(timeout),
            max_size=max_size,
            processor=processor,
            monotonic=self._monotonic,
        )
        self._queues[name] = queue
        return queue

    def create_batch(
        self,
        name: str,
        size: int,
        max_wait: float,
        *,
        concurrency: int | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        processor: Callable[[list[Any]], Any] | None = None,
    ) -> BatchQueue[Any, Any]:
        processor = processor or self._check_free(name)
        queue: BatchQueue[Any, Any] = BatchQueue(
            name,
            size,
            max_wait,
            processor=processor,
            concurrency=self._concurrency(concurrency),
            interval=self._interval(interval),
            timeout=self._timeout(timeout),
            monotonic=self._monotonic,
        )
        self._queues[name] = queue
        return queue

    # -- all queues -------------------------------------------------------------------------

    def all_stats(self) -> dict[str, dict[str, Any]]:
        return {name: self._queues[name].stats().to_dict() for name in self.names()}

    def attach(self) -> None:
        """Bind every queue to the running loop, so other threads can ``add_threadsafe``."""
        for queue in self._queues.values():
            queue.attach()

    async def stop(self, timeout: float | None = None) -> int:
        """Stop every queue at once, each given up to ``timeout`` seconds to drain
        (:meth:`force_stop` ends that early).

        Returns (and logs) how many queued or running jobs were dropped in all.
        """
        names = self.names()
        self._stopping, self._forced = True, False
        try:
            outcomes = await asyncio.gather(
                *(self._stop_one(self._queues[name], timeout) for name in names),
                return_exceptions=True,
            )
        finally:
            self._stopping = False
        dropped: dict[str, int] = {}
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.error("in-memory queue %r failed to stop: %r", name, outcome)
            elif outcome:
                dropped[name] = outcome
        total = sum(dropped.values())
        if total:
            detail = ", ".join(f"{name}: {count}" for name, count in dropped.items())
            logger.warning("in-memory queues dropped %d job(s) on stop (%s)", total, detail)
        else:
            logger.info("in-memory queues stopped; no job dropped")
        return total

    def force_stop(self) -> None:
        """End the grace period of a :meth:`stop` under way at once: every queue drops
        the jobs waiting to start and cancels the running ones (a sync processor's thread
        cannot be interrupted: the stop just stops waiting for it), and the pending
        ``stop()`` returns promptly with the dropped count. Without a stop under way this
        does nothing. Call it from the event loop's thread (a handler added with
        ``loop.add_signal_handler`` runs there)."""
        if not self._stopping:
            return
        self._forced = True
        for queue in list(self._queues.values()):
            queue.force_stop()

    async def _stop_one(self, queue: MemoryQueue, timeout: float | None) -> int:
        # A queue whose stop had not begun when force_stop() came has no grace to end:
        # it gets none.
        return await queue.stop(0 if self._forced else timeout)

    # -- defaults ---------------------------------------------------------------------------

    def mark_replaceable(self, names: Iterable[str]) -> None:
        """Queues the application may re-create under the same name (the built-ins), as in
        ``qm.create_rate_limited_queue("api-calls", 100)``."""
        self._replaceable.update(names)

    def _check_free(self, name: str) -> Callable[[Any], Any] | None:
        """Make room for a new queue ``name``; return the processor it inherits, if any."""
        existing = self._queues.get(name)
        if existing is not None and name in self._replaceable:
            stats = existing.stats()
            if stats.queued == 0 and stats.running == 0:
                # An idle built-in gives way to the application's own settings, keeping its
                # processor unless the new queue brings one.
                del self._queues[name]
                self._replaceable.discard(name)
                _stop_when_possible(existing)
                return existing.processor
        if name in self._queues:
            raise DuplicateQueue(
                f"an in-memory queue named {name!r} already exists; "
                f"use get_in_memory_queue({name!r}) or choose another name"
            )
        return None

    def _concurrency(self, value: int | None) -> int:
        return self._defaults.in_memory_concurrency if value is None else value

    def _interval(self, value: float | None) -> float:
        return self._defaults.in_memory_interval if value is None else value

    def _timeout(self, value: float | None) -> float | None:
        return self._defaults.in_memory_timeout if value is None else value


def _stop_when_possible(queue: MemoryQueue) -> None:
    """An idle replaced queue may still have idle workers on a loop: let them go."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop here: it has never started workers on this thread's loop
    task = loop.create_task(queue.stop(0))
    _retiring.add(task)
    task.add_done_callback(_retiring.discard)


_retiring: set[asyncio.Task[int]] = set()
