"""Rescue: jobs whose lease ran out (their worker was killed, hung or cut off) run again.

:meth:`Rescuer.run_once` asks the store for expired leases, decides for each with
:func:`~noormme_queue.core.retry.after_lost_lease` (due again now, or failed for good once
its attempts are spent) and settles them like any attempt, so the compare-and-set on the
claim token keeps a job its worker finished meanwhile as it is. Any process may rescue any
job: leases are the only thing it trusts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..core.errors import LeaseLost
from ..core.job import Job, JobStatus
from ..store import Expired, Failed, Outcome
from .outcomes import settle_expired

log = logging.getLogger("noormme_queue.maintenance")

BATCH = 100


@dataclass(frozen=True, slots=True)
class RescueReport:
    recovered: int
    """Back to ``pending``, to run again now."""
    failed: int
    """Out of attempts: ``failed`` for good (the dead-letter record)."""


class Rescuer:
    def __init__(
        self,
        *,
        expired: Callable[[float, int], Awaitable[list[Expired]]],
        settle: Callable[[Sequence[Outcome], float], Awaitable[list[bool]]],
        on_failed: Callable[[Job, BaseException], None],
        on_recovered: Callable[[], None],
        on_expired: Callable[[Job, bool, float], None] | None = None,
    ) -> None:
        """``expired(now, limit)`` and ``settle(outcomes, now)`` are the store's;
        ``on_failed(job, LeaseLost)`` runs ``on_failure`` for a job that failed for good;
        ``on_recovered()`` wakes the local worker; ``on_expired(job, recovered, now)`` tells
        the observers (engine/observe.py) of each job settled."""
        self._expired = expired
        self._settle = settle
        self._on_failed = on_failed
        self._on_recovered = on_recovered
        self._on_expired = on_expired

    async def run_once(self, now: float) -> RescueReport:
        recovered = failed = 0
        while True:
            found = await self._expired(now, BATCH)
            if not found:
                break
            outcomes = [settle_expired(e, now=now) for e in found]
            applied = await self._settle(outcomes, now)
            for item, outcome, done in zip(found, outcomes, applied, strict=True):
                if not done:  # its worker finished or renewed it in between
                    continue
                if self._on_expired is not None:
                    self._on_expired(item.job, outcome.retry_at is not None, now)
                if outcome.retry_at is None:
                    failed += 1
                    self._failed(item.job, outcome)
                else:
                    recovered += 1
                    log.warning(
                        "job %s (%s) recovered after its lease expired (attempt %d/%d)",
                        item.job.id,
                        item.job.type,
                        item.job.attempts,
                        item.job.max_attempts,
                    )
            if len(found) < BATCH:
                break
        if recovered:
            self._on_recovered()
        return RescueReport(recovered, failed)

    def _failed(self, job: Job, outcome: Failed) -> None:
        log.error(
            "job %s (%s) failed for good: its lease expired on attempt %d/%d",
            job.id,
            job.type,
            job.attempts,
            job.max_attempts,
        )
        final = dataclasses.replace(
            job,
            status=JobStatus.FAILED,
            error=outcome.attempt.error,
            finished_at=outcome.attempt.finished_at,
            history=(*job.history, outcome.attempt),
            worker_id=job.worker_id,
        )
        self._on_failed(final, LeaseLost(outcome.attempt.error or "lease expired"))
