"""The persistent worker: claim -> run -> settle, with leases, retries and graceful stop.

One asyncio task claims jobs (only of the types this process has handlers for,
only as many as it has free slots) and starts one task per job. A job's task
runs the handler, turns what happened into an outcome (completed, failed with a
retry time, failed for good, released on shutdown) and settles it with a
compare-and-set, so a job cancelled or recovered meanwhile is never
overwritten. Leases are renewed from a thread (see maintenance.py), so a
handler that blocks the event loop does not lose its jobs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import random
import socket
import threading
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..core.clock import Clock
from ..core.config import QueueConfig
from ..core.errors import JobTimeout
from ..core.job import JSON, Attempt, AttemptOutcome, Job, JobStatus, to_datetime
from ..core.progress import current_reporter
from ..core.retry import RetryPolicy, should_retry
from ..core.signals import RetryLater, UnrecoverableError
from ..core.threads import run_sync, submit_sync
from ..store import Claim, Completed, Failed, JobStore, Outcome, Released
from .binding import BoundHandler
from .maintenance import LeaseKeeper

log = logging.getLogger("noormme_queue.worker")

MAX_TRACEBACK_CHARS = 16_000
MIN_SLEEP = 0.001  # never spin, even when the next job is due "now"
STOP_CANCEL_WAIT = 5.0  # seconds a cancelled handler gets to unwind before stop moves on

CancelReason = Literal["cancelled", "shutdown", "lost"]


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Running:
    __slots__ = ("job", "reason", "task", "token")

    def __init__(self, job: Job, token: str) -> None:
        self.job = job
        self.token = token
        self.task: asyncio.Task[None] | None = None
        self.reason: CancelReason | None = None


class _Finished:
    """A job whose handler returned or raised, waiting for its outcome to be saved."""

    __slots__ = ("error", "job", "outcome", "result")

    def __init__(
        self, outcome: Outcome, job: Job, error: BaseException | None = None, result: JSON = None
    ) -> None:
        self.outcome = outcome
        self.job = job
        self.error = error
        self.result = result


class _ProgressReporter:
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
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.config = config
        self.clock = clock
        self.worker_id = worker_id or new_worker_id()
        self._rng = rng or random.Random()
        self._running: dict[str, _Running] = {}
        self._running_lock = threading.Lock()  # the lease keeper thread reads these
        # Outcomes wait here and are saved by the claim loop, in one write together with the
        # next claim: one transaction per cycle, not one per job.
        self._outbox: list[_Finished] = []
        self._settling: list[_Finished] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._force = asyncio.Event()
        self._want_claim = True
        self._next_due: float | None = None
        self._main: asyncio.Task[None] | None = None
        self._stopping = False
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self.released = 0  # jobs handed back to pending by stops, for reports
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self.keeper = LeaseKeeper(self)
        self.processed = 0

    # -- public face ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._main is not None and not self._main.done()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def held_leases(self) -> list[tuple[str, str]]:
        """Jobs this worker holds: running, or finished with the outcome not yet saved."""
        with self._running_lock:
            held = [(r.job.id, r.token) for r in self._running.values()]
            held += [(f.outcome.job_id, f.outcome.token) for f in self._outbox]
            held += [(f.outcome.job_id, f.outcome.token) for f in self._settling]
        return held

    async def start(self) -> None:
        if self.started:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._force = asyncio.Event()
        self._want_claim = True
        self._stop_listening = await self.store.listen(self.wake)
        self._main = asyncio.create_task(
            self._claim_loop(), name=f"noormme-worker {self.worker_id}"
        )
        self.keeper.start(self._loop)

    def wake(self) -> None:
        """New work may be due: claim now. Safe to call from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_local()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake_local)

    def cancel_local(self, job_id: str, reason: CancelReason = "cancelled") -> bool:
        """Cancel the handler of a job running here (it was cancelled or lost in the store)."""
        running = self._running.get(job_id)
        if running is None or running.task is None or running.task.done():
            return False
        running.reason = running.reason or reason
        running.task.cancel()
        return True

    def leases_lost(self, job_ids: Iterable[str]) -> None:
        """The store no longer has these jobs as ours: stop the ones still running."""
        for job_id in job_ids:
            if self.cancel_local(job_id, "lost"):
                log.warning(
                    "worker %s lost job %s (cancelled, or recovered after its lease "
                    "expired); its handler was stopped",
                    self.worker_id,
                    job_id,
                )

    def force_stop(self) -> None:
        """End the grace period now: unfinished jobs go back to ``pending`` at once."""
        self._force.set()

    def cancel_soon(self, job_id: str) -> None:
        """Thread-safe :meth:`cancel_local` for a job cancelled by a person."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.cancel_local, job_id, "cancelled")

    async def stop(self, timeout: float) -> int:
        """Claim nothing new; give in-flight jobs ``timeout`` seconds; release the rest.

        Returns how many unfinished jobs were put back to ``pending``.
        """
        self._stopping = True
        self._wakeup.set()
        tasks = [r.task for r in list(self._running.values()) if r.task is not None]
        if tasks and timeout > 0:
            await self._grace(tasks, timeout)
        released_before = self.released
        unfinished = [r for r in list(self._running.values()) if r.task and not r.task.done()]
        for running in unfinished:
            self.cancel_local(running.job.id, "shutdown")
        if unfinished:
            tasks = [r.task for r in unfinished if r.task]
            _, stuck = await asyncio.wait(tasks, timeout=STOP_CANCEL_WAIT)
            if stuck:
                # Sync handlers still in their threads: give their jobs back now (the threads
                # are daemons and end with the process).
                self._force.set()
                _, stuck = await asyncio.wait(stuck, timeout=1.0)
            if stuck:  # a handler that swallows cancellation: leave it; its lease will expire
                log.error(
                    "worker %s: %d job(s) ignored cancellation and were abandoned; they "
                    "will be recovered when their leases expire",
                    self.worker_id,
                    len(stuck),
                )
            log.info(
                "worker %s put %d unfinished job(s) back to pending",
                self.worker_id,
                self.released - released_before,
            )
        if self._main is not None:
            # The loop exits once every outcome is saved; if the store is down that may never
            # happen, and the leases then expire and recovery hands the jobs out again.
            done, _ = await asyncio.wait([self._main], timeout=max(timeout, 5.0))
            if not done:
                log.error(
                    "worker %s could not save %d outcome(s) before stopping; their "
                    "jobs will be recovered when the leases expire",
                    self.worker_id,
                    len(self._outbox) + len(self._settling),
                )
                self._main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._main
            self._main = None
        if self._hook_tasks:  # completion hooks already under way get the same grace
            await asyncio.wait(set(self._hook_tasks), timeout=max(timeout, 1.0))
        await run_sync(self.keeper.stop)
        if self._stop_listening is not None:
            await self._stop_listening()
            self._stop_listening = None
        return self.released - released_before

    async def _grace(self, tasks: list[asyncio.Task[None]], timeout: float) -> None:
        """Wait for ``tasks`` up to ``timeout`` seconds, or until :meth:`force_stop`."""
        forced = asyncio.create_task(self._force.wait())
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

    # -- the claim loop ------------------------------------------------------------------------

    def _wake_local(self) -> None:
        self._want_claim = True
        self._wakeup.set()

    async def _claim_loop(self) -> None:
        while True:
            free = self.config.concurrency - len(self._running)
            types = list(self.handlers)
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
            if self._stopping and not self._running and not self._settling:
                return
            await self._sleep(self._poll_delay())

    async def _cycle(self, types: list[str], limit: int) -> None:
        """Save waiting outcomes and claim up to ``limit`` jobs, in one group commit."""
        now = self.clock.now()
        self._settling, self._outbox = self._outbox, []
        writes: list[Any] = []
        if self._settling:
            writes.append(self.store.settle([f.outcome for f in self._settling], now=now))
        if limit:
            writes.append(
                self.store.claim(
                    types,
                    limit,
                    now=now,
                    lease_until=now + self.config.lease_timeout,
                    worker_id=self.worker_id,
                )
            )
        results = await asyncio.gather(*writes, return_exceptions=True)
        if self._settling:
            settled = results.pop(0)
            if isinstance(settled, BaseException):
                self._outbox[:0] = self._settling  # keep them; try again next cycle
                self._settling = []
                if limit and not isinstance(results[0], BaseException):
                    self._start_jobs(results[0], limit)
                raise settled
            for finished, applied in zip(self._settling, settled, strict=True):
                self._saved(finished, applied)
            self._settling = []
        if limit:
            claim = results[0]
            if isinstance(claim, BaseException):
                raise claim
            self._start_jobs(claim, limit)

    def _start_jobs(self, claim: Claim, limit: int) -> None:
        if self._stopping and claim.jobs:
            # Stop began while the claim was in flight: hand the jobs straight back.
            for job in claim.jobs:
                self._outbox.append(_Finished(Released(job.id, claim.token), job))
            return
        for job in claim.jobs:
            running = _Running(job, claim.token)
            with self._running_lock:
                self._running[job.id] = running
            running.task = asyncio.create_task(self._run(running), name=f"job {job.id}")
        self._next_due = claim.next_run_at
        if len(claim.jobs) == limit:
            self._want_claim = True  # there may be more

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

    # -- running one job -----------------------------------------------------------------------

    async def _run(self, running: _Running) -> None:
        job = running.job
        finished: _Finished | None = None
        try:
            outcome, error, result = await self._execute(running)
            if outcome is not None:
                finished = _Finished(outcome, job, error, result)
        except Exception:  # a bug of ours, not the handler's: the lease will expire
            log.exception("job %s (%s): internal error running it", job.id, job.type)
        finally:
            with self._running_lock:
                if finished is not None:
                    self._outbox.append(finished)
                self._running.pop(job.id, None)
            self.processed += 1
            self._wakeup.set()  # the claim loop saves the outcome and fills the slot

    def _saved(self, finished: _Finished, applied: bool) -> None:
        """An outcome reached the store (or was refused): run the hooks it calls for."""
        job, outcome = finished.job, finished.outcome
        if applied and isinstance(outcome, Released):
            self._want_claim = True  # it is pending again, now
        elif applied and isinstance(outcome, Failed) and outcome.retry_at is not None:
            # Sleep no longer than until this retry is due, whatever the poll interval.
            due = outcome.retry_at
            self._next_due = due if self._next_due is None else min(self._next_due, due)
        if not applied:
            if not isinstance(outcome, Released):
                log.warning(
                    "job %s (%s): outcome dropped, the job was cancelled or recovered "
                    "while running",
                    job.id,
                    job.type,
                )
            return
        handler = self.handlers.get(job.type)
        if handler is None:
            return
        wants_hook = (isinstance(outcome, Completed) and handler.has_on_complete) or (
            isinstance(outcome, Failed) and outcome.retry_at is None and handler.has_on_failure
        )
        if wants_hook:
            task = asyncio.create_task(self._after(finished), name=f"hooks of job {job.id}")
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    async def _execute(
        self, running: _Running
    ) -> tuple[Outcome | None, BaseException | None, JSON]:
        """Run the handler; return (outcome or None if nothing to settle, error, result)."""
        job = running.job
        started = _dt(self.clock.now())
        handler = self.handlers.get(job.type)
        if handler is None:  # unregistered after the claim
            error: BaseException = LookupError(f"no handler registered for job type {job.type!r}")
            return self._failure(running, error, started), error, None
        deadline: asyncio.Timeout | None = None
        thread: concurrent.futures.Future[Any] | None = None
        reporter = current_reporter.set(_ProgressReporter(self.store, job.id, running.token))
        try:
            if handler.is_async:
                call: Awaitable[Any] = handler.process(job)
            else:
                thread = submit_sync(handler.call_sync, job)  # the progress reporter goes along
                call = asyncio.wrap_future(thread)
            if job.timeout:
                async with asyncio.timeout(job.timeout) as deadline:
                    result = await call
            else:
                result = await call
            if inspect.isawaitable(result):  # a plain function that returned a coroutine
                result = await result
        except asyncio.CancelledError:
            if thread is not None and await self._join(thread) and running.reason == "shutdown":
                # A thread cannot be interrupted; it has finished after all: keep its outcome.
                return self._from_thread(running, thread, started)
            if running.reason == "shutdown":
                self.released += 1
                return Released(job.id, running.token), None, None
            if running.reason is not None:  # cancelled by a person, or the lease was lost
                log.info("job %s (%s) stopped: %s", job.id, job.type, running.reason)
                return None, None, None
            raise
        except Exception as exc:
            if thread is not None:
                await self._join(thread)  # hold the job until its thread is really done
            if isinstance(exc, TimeoutError) and deadline is not None and deadline.expired():
                error = JobTimeout(f"job {job.id} ran longer than its timeout of {job.timeout}s")
                return self._failure(running, error, started, timed_out=True), error, None
            return self._failure(running, exc, started), exc, None
        finally:
            current_reporter.reset(reporter)
        return self._completed(running, result, started)

    async def _join(self, thread: concurrent.futures.Future[Any]) -> bool:
        """Wait until a sync handler's thread ends; ``False`` if a forced stop came first.

        Releasing or retrying a job while its thread still runs would run it twice at once.
        """
        if thread.done():
            return True
        ended = asyncio.ensure_future(asyncio.wrap_future(thread))
        forced = asyncio.ensure_future(self._force.wait())
        try:
            await asyncio.wait({ended, forced}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
            ended.cancel()
        return thread.done()

    def _from_thread(
        self, running: _Running, thread: concurrent.futures.Future[Any], started: datetime
    ) -> tuple[Outcome | None, BaseException | None, JSON]:
        error = thread.exception()
        if error is not None:
            return self._failure(running, error, started), error, None
        return self._completed(running, thread.result(), started)

    def _completed(
        self, running: _Running, result: JSON, started: datetime
    ) -> tuple[Outcome | None, BaseException | None, JSON]:
        job = running.job
        try:
            result_json = json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            error = TypeError(f"the handler's result is not JSON-serialisable: {exc}")
            return self._failure(running, error, started), error, None
        attempt = Attempt(
            job.attempts,
            AttemptOutcome.COMPLETED,
            started,
            finished_at=_dt(self.clock.now()),
            worker_id=self.worker_id,
        )
        return Completed(job.id, running.token, result_json, attempt), None, result

    def _failure(
        self, running: _Running, error: BaseException, started: datetime, *, timed_out: bool = False
    ) -> Failed:
        job = running.job
        now = self.clock.now()
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        attempt = Attempt(
            job.attempts,
            AttemptOutcome.TIMED_OUT if timed_out else AttemptOutcome.FAILED,
            started,
            finished_at=_dt(now),
            worker_id=self.worker_id,
            error=message,
            traceback=format_handler_traceback(error)[-MAX_TRACEBACK_CHARS:],
        )
        retry_at: float | None = None
        if not isinstance(error, UnrecoverableError) and should_retry(
            job.attempts, job.max_attempts
        ):
            if isinstance(error, RetryLater):
                delay = error.delay
            else:
                policy = job.retry_policy or RetryPolicy(max_retries=job.max_attempts - 1)
                delay = policy.delay(job.attempts, self._rng)
            retry_at = round(now + delay, 6)  # microseconds, as a datetime holds it
            log.warning(
                "job %s (%s) attempt %d/%d failed on worker %s: %s; retrying in %.2fs",
                job.id,
                job.type,
                job.attempts,
                job.max_attempts,
                self.worker_id,
                message,
                delay,
            )
        else:
            log.error(
                "job %s (%s) failed for good after attempt %d/%d on worker %s: %s",
                job.id,
                job.type,
                job.attempts,
                job.max_attempts,
                self.worker_id,
                message,
            )
        return Failed(job.id, running.token, attempt, retry_at)

    async def _after(self, finished: _Finished) -> None:
        """Run on_complete / on_failure; a hook that raises is logged and changes nothing."""
        job, outcome, error = finished.job, finished.outcome, finished.error
        handler = self.handlers.get(job.type)
        if handler is None:
            return
        done_at = _dt(self.clock.now())
        try:
            if isinstance(outcome, Completed):
                await handler.on_complete(
                    dataclasses.replace(
                        job,
                        status=JobStatus.COMPLETED,
                        result=finished.result,
                        finished_at=done_at,
                        history=(*job.history, outcome.attempt),
                    )
                )
            elif isinstance(outcome, Failed) and error is not None:
                await handler.on_failure(
                    dataclasses.replace(
                        job,
                        status=JobStatus.FAILED,
                        error=outcome.attempt.error,
                        finished_at=done_at,
                        history=(*job.history, outcome.attempt),
                    ),
                    error,
                )
        except Exception:
            log.exception(
                "job %s (%s): a completion hook raised; the job's outcome stands", job.id, job.type
            )

    async def run_failure_hook(self, job: Job, error: BaseException) -> None:
        """on_failure for a job that failed for good outside a handler run (lease expiry)."""
        handler = self.handlers.get(job.type)
        if handler is None:
            return
        try:
            await handler.on_failure(job, error)
        except Exception:
            log.exception("job %s (%s): on_failure raised", job.id, job.type)


# The frames that carry a job to its handler; a traceback starts where the user's code does.
_PLUMBING = frozenset(
    str(Path(__file__).with_name(name)) for name in ("worker.py", "binding.py")
) | {str(Path(__file__).parent.parent / "core" / "threads.py")}


def format_handler_traceback(error: BaseException) -> str:
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in _PLUMBING:
        tb = tb.tb_next
    if tb is None:  # raised by the plumbing itself: show all of it
        tb = error.__traceback__
    return "".join(traceback.format_exception(type(error), error, tb))


def _dt(ts: float) -> datetime:
    value = to_datetime(ts)
    assert value is not None
    return value
