"""From how an attempt ended to the record the store saves: the attempt for the history,
the retry decision of :mod:`~noormme_queue.core.retry` applied, and the log line.

Used alike by the worker (a handler returned, raised or timed out) and by the rescuer (a
lease expired), so a job's history reads the same whatever ended its run.
"""

from __future__ import annotations

import json
import logging
import random
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.errors import LEASE_EXPIRED
from ..core.job import JSON, Attempt, AttemptOutcome, Job, to_datetime
from ..core.retry import after_failure, after_lost_lease
from ..store import Completed, Expired, Failed, Outcome, Released
from .executor import AttemptEnd, Interrupted, Raised, Returned

log = logging.getLogger("noormme_queue.worker")

MAX_TRACEBACK_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class Settled:
    """What to save for one attempt, and what its hooks need afterwards."""

    outcome: Outcome
    job: Job
    error: BaseException | None = None
    result: JSON = None


def settle_attempt(
    end: AttemptEnd,
    job: Job,
    token: str,
    *,
    started: float,
    now: float,
    worker_id: str,
    rng: random.Random,
) -> Settled | None:
    """The record for an attempt, or ``None`` when there is nothing to save (the job was
    cancelled, or is no longer this worker's)."""
    if isinstance(end, Interrupted):
        if end.reason == "shutdown":
            return Settled(Released(job.id, token, worker_id), job)
        log.info("job %s (%s) stopped: %s", job.id, job.type, end.reason)
        return None
    if isinstance(end, Returned):
        try:
            result_json = "null" if end.value is None else json.dumps(end.value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            end = Raised(TypeError(f"the handler's result is not JSON-serialisable: {exc}"))
        else:
            attempt = Attempt(
                job.attempts,
                AttemptOutcome.COMPLETED,
                _dt(started),
                finished_at=_dt(now),
                worker_id=worker_id,
            )
            return Settled(Completed(job.id, token, result_json, attempt), job, None, end.value)
    error = end.error
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    attempt = Attempt(
        job.attempts,
        AttemptOutcome.TIMED_OUT if end.timed_out else AttemptOutcome.FAILED,
        _dt(started),
        finished_at=_dt(now),
        worker_id=worker_id,
        error=message,
        traceback=format_handler_traceback(error)[-MAX_TRACEBACK_CHARS:],
        error_type=f"{type(error).__module__}.{type(error).__qualname__}",
    )
    retry_at = after_failure(
        error,
        attempts_made=job.attempts,
        max_attempts=job.max_attempts,
        policy=job.retry_policy,
        now=now,
        rng=rng,
    )
    if retry_at is not None:
        log.warning(
            "job %s (%s) attempt %d/%d failed on worker %s: %s; retrying in %.2fs",
            job.id,
            job.type,
            job.attempts,
            job.max_attempts,
            worker_id,
            message,
            retry_at - now,
        )
    else:
        log.error(
            "job %s (%s) failed for good after attempt %d/%d on worker %s: %s",
            job.id,
            job.type,
            job.attempts,
            job.max_attempts,
            worker_id,
            message,
        )
    return Settled(Failed(job.id, token, attempt, retry_at), job, error)


def settle_expired(expired: Expired, *, now: float) -> Failed:
    """The record for a run whose lease ran out: it counts, like a failure."""
    job = expired.job
    attempt = Attempt(
        job.attempts,
        AttemptOutcome.LEASE_EXPIRED,
        job.started_at,
        finished_at=_dt(now),
        worker_id=job.worker_id,
        error=LEASE_EXPIRED,
    )
    retry_at = after_lost_lease(attempts_made=job.attempts, max_attempts=job.max_attempts, now=now)
    return Failed(job.id, expired.token, attempt, retry_at)


# The frames that carry a job to its handler; a traceback starts where the user's code does.
_HERE = Path(__file__).parent
_PLUMBING = frozenset(
    str(path)
    for path in (_HERE / "executor.py", _HERE / "binding.py", _HERE.parent / "core" / "threads.py")
)


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
