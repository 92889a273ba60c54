"""Background services, each a ``run_once(now)`` step plus a thin loop.

- :class:`LeaseKeeper` renews the leases of the jobs this worker runs, returns
  jobs whose leases expired anywhere (a worker was killed) to ``pending`` or,
  with their attempts spent, to ``failed``, and notes pending job types that
  no handler here serves. It runs in its own thread with its own event loop,
  so a handler that blocks the worker's loop does not lose its leases.
- :class:`Cleaner` deletes completed and cancelled jobs older than the
  retention, in small batches so that claims are never held up behind it.

Tests call ``run_once`` with a pinned ``now`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.clock import Clock
from ..core.errors import QueueError
from ..core.job import JobStatus
from ..store import JobStore

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger("noormme_queue.maintenance")

PURGE_BATCH = 500
SECONDS_PER_DAY = 86_400.0


class LeaseLost(QueueError):
    """The worker running a job stopped renewing its lease (it was killed or hung)."""


@dataclass(frozen=True, slots=True)
class KeeperReport:
    extended: int
    lost: int
    recovered: int
    failed: int


class LeaseKeeper:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.unhandled_types: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker_loop: asyncio.AbstractEventLoop | None = None

    def note_pending(self, types: Iterable[str]) -> None:
        """Types just enqueued here without a handler: show them before the next survey."""
        new = set(types) - set(self.unhandled_types)
        if new:
            self.unhandled_types = tuple(sorted(set(self.unhandled_types) | new))

    @property
    def period(self) -> float:
        # Renew well before expiry; also the cadence of recovery and of the type survey.
        return min(self.worker.config.lease_timeout / 3, 5.0)

    async def run_once(self, now: float) -> KeeperReport:
        worker = self.worker
        store = worker.store
        held = worker.held_leases()
        lost = await store.extend_leases(held, now + worker.config.lease_timeout)
        loop = self._worker_loop
        if lost and loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(worker.leases_lost, lost)
        recovered = await store.recover_expired(now=now)
        failed = 0
        for item in recovered:
            job = item.job
            if job.status is JobStatus.FAILED:
                failed += 1
                log.error(
                    "job %s (%s) failed for good: its lease expired on attempt %d/%d",
                    job.id,
                    job.type,
                    job.attempts,
                    job.max_attempts,
                )
                if loop is not None and job.type in worker.handlers:
                    coro = worker.run_failure_hook(job, LeaseLost(job.error or "lease expired"))
                    with contextlib.suppress(RuntimeError):
                        asyncio.run_coroutine_threadsafe(coro, loop)
            else:
                log.warning(
                    "job %s (%s) recovered after its lease expired (attempt %d/%d)",
                    job.id,
                    job.type,
                    job.attempts,
                    job.max_attempts,
                )
        if len(recovered) > failed:
            worker.wake()
        pending = await store.pending_types()
        self.unhandled_types = tuple(t for t in pending if t not in worker.handlers)
        return KeeperReport(len(held) - len(lost), len(lost), len(recovered) - failed, failed)

    def start(self, worker_loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._worker_loop = worker_loop
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="noormme-queue-lease-keeper", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while True:
                try:
                    loop.run_until_complete(self.run_once(self.worker.clock.now()))
                except Exception:
                    log.exception("lease keeper step failed; retrying in %.1fs", self.period)
                if self._stop.wait(self.period):
                    break
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()


class Cleaner:
    def __init__(
        self, store: JobStore, clock: Clock, *, older_than_days: float, interval: float
    ) -> None:
        self.store = store
        self.clock = clock
        self.older_than_days = older_than_days
        self.interval = interval

    async def run_once(
        self,
        now: float,
        older_than_days: float | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Delete finished jobs older than the retention; return how many.

        ``on_batch(removed)`` is called after each batch (the CLI's progress bar).
        """
        days = self.older_than_days if older_than_days is None else older_than_days
        cutoff = now - days * SECONDS_PER_DAY
        removed = 0
        while True:
            batch = await self.store.purge(finished_before=cutoff, limit=PURGE_BATCH)
            removed += batch
            if on_batch is not None:
                on_batch(batch)
            if batch < PURGE_BATCH:
                break
        if removed:
            log.info("cleanup removed %d finished job(s) older than %s day(s)", removed, days)
        return removed

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once(self.clock.now())
            except Exception:
                log.exception("cleanup failed; trying again in %.0fs", self.interval)
