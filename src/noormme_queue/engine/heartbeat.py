"""Live workers: each worker's row in the store, renewed by a heartbeat.

:meth:`Heartbeat.run_once` writes this worker's row (host, pid, queues, concurrency, the
types it handles, the jobs it runs, when it started, its clock) with a time to live of
:data:`WORKER_TTL`, and deletes the rows of workers whose time ran out: a worker killed
without a goodbye ages out after a few missed beats. :meth:`Heartbeat.stop` removes the row
at a graceful stop. It takes narrow callables, not the worker, and runs in a thread of its
own (:class:`~noormme_queue.engine.loops.EveryInThread`): the lease keeper's, right after
each renewal (:meth:`Heartbeat.keep`), so a handler blocking the worker's event loop does not
make it look dead while it holds leases.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from ..core.config import QueueConfig
from ..store import JobStore, WorkerBeat
from .leases import MAX_PERIOD
from .loops import Step
from .worker import Worker

log = logging.getLogger("noormme_queue.maintenance")

HEARTBEAT_PERIOD = MAX_PERIOD
"""Seconds between a worker's heartbeats, at most: it beats with each lease renewal (a third
of ``QUEUE_LEASE_TIMEOUT`` when that is shorter, see ``leases.renewal_period``)."""
WORKER_TTL = 4 * HEARTBEAT_PERIOD
"""Seconds after its last heartbeat a worker is taken for dead (four missed beats)."""


@dataclass(frozen=True, slots=True)
class BeatReport:
    jobs: int
    """Jobs this worker was running."""
    aged_out: int
    """Rows of dead workers deleted."""


class Heartbeat:
    def __init__(
        self,
        *,
        worker_id: str,
        beat: Callable[[WorkerBeat, float], Awaitable[int]],
        forget: Callable[[str], Awaitable[bool]],
        running: Callable[[], Sequence[str]],
        types: Callable[[], Collection[str]],
        queues: Sequence[str] | None,
        concurrency: int,
        ttl: float = WORKER_TTL,
        beside: Step | None = None,
    ) -> None:
        """``beat(row, now)`` and ``forget(id)`` are the store's; ``running()`` lists the ids
        of the jobs running here, ``types()`` the types handled here (both called from the
        heartbeat's thread); ``beside(now)`` is the step :meth:`keep` runs first (the lease
        keeper's)."""
        self.worker_id = worker_id
        self._beat = beat
        self._forget = forget
        self._running = running
        self._types = types
        self._queues = None if queues is None else tuple(queues)
        self._concurrency = concurrency
        self.ttl = ttl
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at: float | None = None
        self._beside = beside

    @classmethod
    def over(
        cls, store: JobStore, worker: Worker, config: QueueConfig, beside: Step | None = None
    ) -> Heartbeat:
        """The heartbeat of ``worker``, written to ``store``."""
        return cls(
            worker_id=worker.worker_id,
            beat=lambda row, now: store.beat(row, now=now),
            forget=store.forget_worker,
            running=worker.running_jobs,
            types=lambda: list(worker.handlers),
            queues=None if config.queues is None else config.queues.split(","),
            concurrency=config.concurrency,
            beside=beside,
        )

    async def keep(self, now: float) -> None:
        """The ``beside`` step (renew the leases), then a heartbeat, even if that failed."""
        try:
            if self._beside is not None:
                await self._beside(now)
        finally:
            await self.run_once(now)

    async def run_once(self, now: float) -> BeatReport:
        if self.started_at is None:
            self.started_at = now
        jobs = tuple(self._running())
        row = WorkerBeat(
            id=self.worker_id,
            host=self.host,
            pid=self.pid,
            queues=self._queues,
            concurrency=self._concurrency,
            types=tuple(sorted(self._types())),
            jobs=jobs,
            started_at=self.started_at,
            expires_at=now + self.ttl,
        )
        aged_out = await self._beat(row, now)
        if aged_out:
            log.info("%d worker(s) stopped beating and were taken for dead", aged_out)
        return BeatReport(len(jobs), aged_out)

    async def stop(self) -> bool:
        """Remove this worker's row (a graceful stop); ``False`` if it had none, or if the
        store failed (the row then ages out)."""
        if self.started_at is None:
            return False
        self.started_at = None
        try:
            return await self._forget(self.worker_id)
        except Exception as exc:
            log.warning("could not remove worker %s's row (it ages out): %s", self.worker_id, exc)
            return False
