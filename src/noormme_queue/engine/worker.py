"""The persistent worker: the claim loop and its slots.

One task claims jobs (only of the types this process has handlers for, only as many as it
has free slots) and starts one task per job. A job's task runs the attempt
(:mod:`~noormme_queue.engine.executor`) and turns its end into the record to save
(:mod:`~noormme_queue.engine.outcomes`). The claim loop saves the records together with the
next claim, in one write: one transaction per cycle, not one per job. Every save is a
compare-and-set, so a job cancelled or rescued meanwhile is never overwritten. Leases are
renewed by the lease keeper from its own thread, reading :meth:`Worker.held_leases`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from ..core.clock import Clock
from ..core.config import QueueConfig
from ..core.job import JSON, Job
from ..store import Claim, Failed, JobStore, Released
from .binding import BoundHandler
from .executor import AttemptEnd, CancelReason, Raised, run_attempt
from .hooks import Hooks
from .observe import AttemptWatch, Observers
from .outcomes import Settled, settle_attempt

log = logging.getLogger("noormme_queue.worker")

MIN_SLEEP = 0.001  # never spin, even when the next job is due "now"
STOP_CANCEL_WAIT = 5.0  # seconds a cancelled handler gets to unwind before stop moves on


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Slot:
    """A job running here."""

    __slots__ = ("job", "reason", "task", "token")

    def __init__(self, job: Job, token: str) -> None:
        self.job = job
        self.token = token
        self.task: asyncio.Task[None] | None = None
        self.reason: CancelReason | None = None


class _Reporter:
    """``save_progress`` of one running job."""

    __slots__ = ("job_id", "store", "token")

    def __init__(self, store: JobStore, job_id: str, token: str) -> None:
        self.store = store
        self.job_id = job_id
        self.token = token

    async def save(self, progress: JSON) -> bool:
        return await self.store.save_progress(self.job_id, self.token, json.dumps(progress))


class Worker:
    def __init__(
        self,
        store: JobStore,
        handlers: Mapping[str, BoundHandler],
        config: QueueConfig,
        clock: Clock,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        observers: Observers | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.config = config
        self.clock = clock
        self.worker_id = worker_id or new_worker_id()
        self.hooks = Hooks(handlers, clock.now)
        self.observers = observers if observers is not None else Observers()
        self._rng = rng or random.Random()
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()  # the lease keeper's thread reads them
        self._outbox: list[Settled] = []  # saved with the next claim
        self._settling: list[Settled] = []  # being saved now
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._forced = asyncio.Event()
        self._want_claim = True
        self._next_due: float | None = None
        self._main: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._consumed = config.queue_concurrency
        self.released = 0  # jobs handed back to pending by stops, for reports
        self.processed = 0

    # -- public face ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._main is not None and not self._main.done()

    @property
    def stopping(self) -> bool:
        """A stop is under way: nothing new is claimed."""
        return self._stopping

    @property
    def in_flight(self) -> int:
        return len(self._slots)

    def running_jobs(self) -> list[str]:
        """Ids of the jobs running here (any thread may ask)."""
        with self._slots_lock:
            return list(self._slots)

    def held_leases(self) -> list[tuple[str, str]]:
        """Jobs this worker holds: running, or finished with the record not yet saved."""
        with self._slots_lock:
            held = [(s.job.id, s.token) for s in self._slots.values()]
            held += [(f.outcome.job_id, f.outcome.token) for f in self._outbox]
            held += [(f.outcome.job_id, f.outcome.token) for f in self._settling]
        return held

    async def start(self) -> None:
        if self.started:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._forced = asyncio.Event()
        self._want_claim = True
        self._stop_listening = await self.store.listen(self.wake)
        self._main = asyncio.create_task(
            self._claim_loop(), name=f"noormme-worker {self.worker_id}"
        )

    def wake(self) -> None:
        """New work may be due: claim now. Safe to call from any thread."""
        self._on_loop(self._wake_here)

    def cancel_soon(self, job_id: str, reason: CancelReason = "cancelled") -> None:
        """Stop the handler of a job running here. Safe to call from any thread."""
        self._on_loop(lambda: self._cancel(job_id, reason))

    def leases_lost(self, job_ids: Iterable[str]) -> None:
        """The store no longer has these jobs as ours: stop their handlers (any thread)."""
        lost = list(job_ids)
        self._on_loop(lambda: self._lost(lost))

    def force_stop(self) -> None:
        """End the grace period now: unfinished jobs go back to ``pending`` at once."""
        self._forced.set()
        self.hooks.abandon()

    async def stop(self, timeout: float) -> int:
        """Claim nothing new; give in-flight jobs ``timeout`` seconds; release the rest.

        Returns how many unfinished jobs were put back to ``pending``.
        """
        self._stopping = True
        self._wakeup.set()
        released_before = self.released
        tasks = [s.task for s in list(self._slots.values()) if s.task is not None]
        if tasks and timeout > 0:
            await self._grace(tasks, timeout)
        unfinished = [s for s in list(self._slots.values()) if s.task and not s.task.done()]
        if unfinished:
            await self._interrupt(unfinished)
        if self._main is not None:
            # The loop exits once every record is saved; if the store is down that may never
            # happen, and the leases then expire and a rescuer hands the jobs out again.
            done, _ = await asyncio.wait([self._main], timeout=max(timeout, 5.0))
            if not done:
                log.error(
                    "worker %s could not save %d outcome(s) before stopping; their jobs will "
                    "be recovered when the leases expire",
                    self.worker_id,
                    len(self._outbox) + len(self._settling),
                )
                self._main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._main
            self._main = None
        await self.hooks.wait(0 if self._forced.is_set() else max(timeout, 1.0))
        if self._stop_listening is not None:
            await self._stop_listening()
            self._stop_listening = None
        return self.released - released_before

    # -- plumbing for other threads --------------------------------------------------------------

    def _on_loop(self, callback: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback)

    def _wake_here(self) -> None:
        self._want_claim = True
        self._wakeup.set()

    def _cancel(self, job_id: str, reason: CancelReason) -> bool:
        slot = self._slots.get(job_id)
        if slot is None or slot.task is None or slot.task.done():
            return False
        slot.reason = slot.reason or reason
        slot.task.cancel()
        return True

    def _lost(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            if self._cancel(job_id, "lost"):
                log.warning(
                    "worker %s lost job %s (cancelled, or recovered after its lease "
                    "expired); its handler was stopped",
                    self.worker_id,
                    job_id,
                )

    # -- stopping ------------------------------------------------------------------------------

    async def _grace(self, tasks: list[asyncio.Task[None]], timeout: float) -> None:
        """Wait for ``tasks`` up to ``timeout`` seconds, or until :meth:`force_stop`."""
        forced = asyncio.create_task(self._forced.wait())
        waiting: set[asyncio.Task[Any]] = set(tasks)
        try:
            async with asyncio.timeout(timeout):
                while waiting and not forced.done():
                    _, still = await asyncio.wait(
                        {*waiting, forced}, return_when=asyncio.FIRST_COMPLETED
                    )
                    waiting = still - {forced}
        except TimeoutError:
            pass
        finally:
            forced.cancel()

    async def _interrupt(self, unfinished: list[_Slot]) -> None:
        released_before = self.released
        for slot in unfinished:
            self._cancel(slot.job.id, "shutdown")
        tasks = [s.task for s in unfinished if s.task]
        _, stuck = await asyncio.wait(tasks, timeout=STOP_CANCEL_WAIT)
        if stuck:
            # Sync handlers still in their threads: give their jobs back now (the threads are
            # daemons and end with the process).
            self._forced.set()
            _, stuck = await asyncio.wait(stuck, timeout=1.0)
        if stuck:  # a handler that swallows cancellation: leave it; its lease will expire
            log.error(
                "worker %s: %d job(s) ignored cancellation and were abandoned; they will be "
                "recovered when their leases expire",
                self.worker_id,
                len(stuck),
            )
        log.info(
            "worker %s put %d unfinished job(s) back to pending",
            self.worker_id,
            self.released - released_before,
        )

    # -- the claim loop ------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            free = self.config.concurrency - len(self._slots)
            types = [t for t, h in list(self.handlers.items()) if h.ready]
            claim_now = free > 0 and self._want_claim and bool(types) and not self._stopping
            if self._outbox or claim_now:
                limit = min(free, self.config.batch_size) if claim_now else 0
                if claim_now:
                    self._want_claim = False
                try:
                    await self._cycle(types, limit)
                except Exception:
                    log.exception(
                        "worker %s: the job store failed; retrying in %.1fs",
                        self.worker_id,
                        self.config.interval,
                    )
                    self._want_claim = self._want_claim or claim_now
                    await self._sleep(self.config.interval)
                continue
            if self._stopping and not self._slots and not self._settling:
                return
            await self._sleep(self._poll_delay())

    async def _cycle(self, types: list[str], limit: int) -> None:
        """Save waiting records and claim up to ``limit`` jobs, in one write."""
        now = self.clock.now()
        with self._slots_lock:
            self._settling, self._outbox = self._outbox, []
        outcomes = [f.outcome for f in self._settling]
        claim: Claim | None = None
        try:
            if limit:
                settled, claim = await self.store.settle_and_claim(
                    outcomes,
                    types,
                    limit,
                    now=now,
                    lease_until=now + self.config.lease_timeout,
                    worker_id=self.worker_id,
                    queues=self._queue_budgets(limit),
                )
            else:
                settled = await self.store.settle(outcomes, now=now)
        except Exception:
            with self._slots_lock:  # nothing was saved: keep them; try again next cycle
                self._outbox[:0], self._settling = self._settling, []
            raise
        if claim is not None:  # first: a retry's due time below may come sooner
            self._start(claim, limit)
        for record, applied in zip(self._settling, settled, strict=True):
            self._saved(record, applied)
        with self._slots_lock:
            self._settling = []

    def _queue_budgets(self, limit: int) -> dict[str, int] | None:
        """With ``QUEUE_QUEUES``, the slots each consumed queue may fill now: its own
        concurrency (else the worker's) less its jobs running here."""
        consumed = self._consumed
        if consumed is None:
            return None
        running: dict[str, int] = {}
        for slot in list(self._slots.values()):
            running[slot.job.queue] = running.get(slot.job.queue, 0) + 1
        return {
            name: min(limit, (cap or self.config.concurrency) - running.get(name, 0))
            for name, cap in consumed.items()
        }

    def _start(self, claim: Claim, limit: int) -> None:
        if self._stopping and claim.jobs:
            # Stop began while the claim was in flight: hand the jobs straight back.
            with self._slots_lock:
                self._outbox += [
                    Settled(Released(j.id, claim.token, self.worker_id), j) for j in claim.jobs
                ]
            return
        for job in claim.jobs:
            slot = _Slot(job, claim.token)
            with self._slots_lock:
                self._slots[job.id] = slot
            slot.task = asyncio.create_task(self._run(slot), name=f"job {job.id}")
        self._next_due = claim.next_run_at
        if len(claim.jobs) == limit:
            self._want_claim = True  # there may be more

    def _saved(self, record: Settled, applied: bool) -> None:
        """A record reached the store (or was refused): note what it changes, run hooks."""
        outcome = record.outcome
        if not applied:
            if not isinstance(outcome, Released):
                log.warning(
                    "job %s (%s): outcome dropped, the job was cancelled or recovered while "
                    "running",
                    record.job.id,
                    record.job.type,
                )
            return
        if isinstance(outcome, Released):
            self._want_claim = True  # it is pending again, now
        elif isinstance(outcome, Failed) and outcome.retry_at is not None:
            # Sleep no longer than until this retry is due, whatever the poll interval.
            due = outcome.retry_at
            self._next_due = due if self._next_due is None else min(self._next_due, due)
        self.hooks.after(record)

    def _poll_delay(self) -> float:
        delay = self.config.interval
        if self._next_due is not None:
            delay = min(delay, max(MIN_SLEEP, self._next_due - self.clock.now()))
        return delay

    async def _sleep(self, delay: float) -> None:
        self._wakeup.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wakeup.wait()
        except TimeoutError:
            self._want_claim = True  # poll: other processes may have enqueued
            self._next_due = None

    # -- one slot ------------------------------------------------------------------------------

    async def _run(self, slot: _Slot) -> None:
        job = slot.job
        record: Settled | None = None
        watches: Sequence[AttemptWatch] = ()
        handler = self.handlers.get(job.type)
        try:
            started = self.clock.now()
            if self.observers:
                watches = self.observers.attempt(job, started)
            if handler is None:  # unregistered after the claim
                error = LookupError(f"no handler registered for job type {job.type!r}")
                end: AttemptEnd = Raised(error)
            else:
                end = await run_attempt(
                    handler,
                    job,
                    reporter=_Reporter(self.store, job.id, slot.token),
                    reason=lambda: slot.reason,
                    forced=self._forced,
                )
            record = settle_attempt(
                end,
                job,
                slot.token,
                started=started,
                now=self.clock.now(),
                worker_id=self.worker_id,
                rng=self._rng,
            )
            if record is not None and isinstance(record.outcome, Released):
                self.released += 1
        except Exception:  # a bug of ours, not the handler's: the lease will expire
            log.exception("job %s (%s): internal error running it", job.id, job.type)
        finally:
            if watches:
                self.observers.ended(watches, record, self.clock.now())
            with self._slots_lock:
                if record is not None:
                    self._outbox.append(record)
                self._slots.pop(job.id, None)
            if self._consumed is not None or (handler is not None and handler.limits.any):
                # A queue's cap or the type's limit may have held jobs back: look again.
                self._want_claim = True
            self.processed += 1
            self._wakeup.set()  # the claim loop saves the record and fills the slot
