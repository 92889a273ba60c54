"""BatchQueue: collect items and hand them to the processor as lists.

A batch is flushed when it holds ``size`` items or ``max_wait`` seconds after
its first item arrived, whichever comes first, and on ``stop()``. Batches run
on an inner :class:`InMemoryQueue` (so ``concurrency``, ``interval`` and
``timeout`` mean what they mean there, per batch).

Each ``add`` resolves when its batch is done, by this rule:

- the processor returns a list as long as the batch: item *i* gets element *i*;
- it returns a list of another length: every item fails with ``QueueError``
  (a per-item result that cannot be matched up is a bug worth hearing about);
- it returns anything else (``None``, a dict, a count, a tuple...): every item
  gets that same value;
- it raises: every item gets that error. The next batch runs regardless.

An item whose caller cancelled before its batch ran is left out of the batch.
Once the batch runs, a cancelled caller no longer affects it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, cast

from ..core.errors import ConfigError, JobDropped, QueueError
from ._calls import as_async_processor, loop_for_other_threads, no_processor, running_loop
from .options import DEFAULT_CONCURRENCY, DEFAULT_INTERVAL, DEFAULT_TIMEOUT
from .queue import InMemoryQueue, P, R
from .stats import MemoryQueueStats

_Batch = list["_Item"]


class _Item(asyncio.Future[Any]):
    __slots__ = ("payload",)
    payload: Any


class BatchQueue(Generic[P, R]):
    kind = "batch"

    def __init__(
        self,
        name: str,
        size: int,
        max_wait: float,
        *,
        processor: Callable[[list[P]], Awaitable[Any]] | Callable[[list[P]], Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        interval: float = DEFAULT_INTERVAL,
        timeout: float | None = DEFAULT_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"batch size must be a whole number >= 1, got {size!r}")
        if (
            isinstance(max_wait, bool)
            or not isinstance(max_wait, int | float)
            or not 0 <= max_wait < float("inf")
        ):
            raise ConfigError(f"max_wait must be a number of seconds >= 0, got {max_wait!r}")
        self._name = name
        self._size = size
        self._max_wait = float(max_wait)
        self._runner: InMemoryQueue[_Batch, tuple[_Batch, Any]] = InMemoryQueue(
            name,
            concurrency=concurrency,
            interval=interval,
            timeout=timeout,
            processor=self._process_batch,
            monotonic=monotonic,
            unit="batch",
        )
        self._processor: Callable[..., Any] | None = None
        self._call: Callable[[Any], Awaitable[Any]] | None = None
        if processor is not None:
            self.set_processor(processor)
        self._buffer: list[_Item] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flush_waiters: list[asyncio.Future[None]] = []
        self._buffer_dropped = 0  # items dropped before their batch was formed
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = self._runner.loop

    @property
    def name(self) -> str:
        return self._name

    @property
    def size(self) -> int:
        return self._size

    @property
    def max_wait(self) -> float:
        return self._max_wait

    @property
    def concurrency(self) -> int:
        return self._runner.concurrency

    @property
    def paused(self) -> bool:
        return self._runner.paused

    @property
    def has_processor(self) -> bool:
        return self._processor is not None

    @property
    def processor(self) -> Callable[[Any], Any] | None:
        return self._processor

    def __repr__(self) -> str:
        return f"<BatchQueue {self._name!r} size={self._size} max_wait={self._max_wait:g}>"

    def set_processor(
        self, processor: Callable[[list[P]], Awaitable[Any]] | Callable[[list[P]], Any]
    ) -> None:
        """Process batches with ``processor(list_of_payloads)``: async, or sync (in a thread)."""
        self._call = as_async_processor(processor)
        self._processor = processor

    def attach(self) -> None:
        loop = running_loop(self._name, "attach")
        self._runner.attach()
        self._loop = loop

    # -- adding work ------------------------------------------------------------------------

    async def add(self, payload: P) -> R:
        """Add one item; returns its result once its batch has been processed."""
        return await self.add_nowait(payload)

    def add_nowait(self, payload: P) -> asyncio.Future[R]:
        loop = running_loop(self._name, "add_nowait")
        if self._processor is None:
            raise no_processor(self._name)
        if self._closing:
            raise JobDropped(f"in-memory queue {self._name!r} is stopping and takes no new jobs")
        if loop is not self._loop:
            self._rebind(loop)
        item = _Item(loop=loop)
        item.payload = payload
        item.add_done_callback(self._on_item_done)
        self._buffer.append(item)
        if len(self._buffer) >= self._size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._flush)
        return cast("asyncio.Future[R]", item)

    def add_threadsafe(self, payload: P) -> concurrent.futures.Future[R]:
        if self._processor is None:
            raise no_processor(self._name)
        loop = loop_for_other_threads(self._loop, self._name)
        return asyncio.run_coroutine_threadsafe(self.add(payload), loop)

    # -- control ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Process no new batches until :meth:`resume`; items still gather into batches."""
        self._runner.pause()

    def resume(self) -> None:
        self._runner.resume()

    def clear(self) -> int:
        """Drop the gathering batch and every batch waiting to run; returns the item count."""
        dropped = self._drop_buffer("cleared")
        return dropped + self._runner.clear()

    async def on_idle(self) -> None:
        """Return once no item is gathering, waiting or being processed."""
        while True:
            if self._buffer:
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._flush_waiters.append(waiter)
                await waiter
                continue
            await self._runner.on_idle()
            if not self._buffer:
                return

    async def stop(self, timeout: float | None = None) -> int:
        """Flush the gathering batch now, then stop like ``InMemoryQueue.stop``.

        Returns how many items were dropped.
        """
        self._closing = True
        try:
            if self._buffer:
                if self._loop is None or self._loop.is_closed():
                    self._drop_buffer("stopped")
                else:
                    self._flush()
            return await self._runner.stop(timeout)
        finally:
            self._closing = False

    def force_stop(self) -> None:
        """End the grace period of a :meth:`stop` under way at once, as
        :meth:`InMemoryQueue.force_stop` does: every item not yet done is dropped."""
        self._runner.force_stop()

    def stats(self) -> MemoryQueueStats:
        inner = self._runner.stats()
        return dataclasses.replace(
            inner,
            kind=self.kind,
            queued=inner.queued + len(self._buffer),
            dropped=inner.dropped + self._buffer_dropped,
        )

    # -- batches ----------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [item for item in self._buffer if not item.done()]
        self._buffer = []
        self._wake_flush_waiters()
        if not batch:
            return
        try:
            job = self._runner.add_weighted(batch, len(batch))
        except Exception as error:  # the runner refused (stopping, another loop)
            for item in batch:
                if not item.done():
                    item.set_exception(error)
            return
        job.add_done_callback(lambda done: self._settle_batch(batch, done))

    async def _process_batch(self, batch: _Batch) -> tuple[_Batch, Any]:
        live = [item for item in batch if not item.done()]
        if not live:
            return live, None
        assert self._call is not None
        return live, await self._call([item.payload for item in live])

    def _settle_batch(self, batch: _Batch, job: asyncio.Future[tuple[_Batch, Any]]) -> None:
        if job.cancelled():
            for item in batch:
                item.cancel()
            return
        error = job.exception()
        if error is not None:
            for item in batch:
                if not item.done():
                    # JobDropped is per item; a processor error is shared, like gather's.
                    item.set_exception(
                        JobDropped(str(error)) if isinstance(error, JobDropped) else error
                    )
            return
        live, result = job.result()
        if isinstance(result, list):
            if len(result) != len(live):
                mismatch = QueueError(
                    f"the batch processor of in-memory queue {self._name!r} returned "
                    f"{len(result)} results for {len(live)} items; return one result per item "
                    f"(in order), or a value that is not a list to give every item that value"
                )
                for item in live:
                    if not item.done():
                        item.set_exception(mismatch)
                return
            for item, value in zip(live, result, strict=True):
                if not item.done():
                    item.set_result(value)
        else:
            for item in live:
                if not item.done():
                    item.set_result(result)

    def _on_item_done(self, future: asyncio.Future[Any]) -> None:
        """A gathering item's caller cancelled: leave it out of the batch."""
        if not future.cancelled():
            return
        item = cast(_Item, future)
        if item in self._buffer:
            self._buffer.remove(item)
            if not self._buffer:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self._wake_flush_waiters()

    def _drop_buffer(self, why: str) -> int:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dropped = 0
        for item in self._buffer:
            if not item.done():
                dropped += 1
                item.set_exception(
                    JobDropped(f"in-memory queue {self._name!r} was {why}; item dropped")
                )
        self._buffer = []
        self._buffer_dropped += dropped
        self._wake_flush_waiters()
        return dropped

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._runner.busy_elsewhere(loop) or (
            self._loop is not None and not self._loop.is_closed() and self._buffer
        ):
            raise RuntimeError(
                f"in-memory queue {self._name!r} is busy on another event loop; "
                f"use add_threadsafe() from other threads, or stop() it first"
            )
        self._buffer_dropped += len(self._buffer)
        self._buffer = []
        self._timer = None
        self._flush_waiters = []
        self._loop = loop

    def _wake_flush_waiters(self) -> None:
        waiters, self._flush_waiters = self._flush_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
