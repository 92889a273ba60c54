"""Lease renewal: while a job runs, its worker keeps extending the lease on it.

:meth:`LeaseKeeper.run_once` extends every lease the worker holds and reports the ones the
store no longer has as the worker's (cancelled by a person, or recovered by a rescuer after
the lease had run out), so the worker stops their handlers. It takes narrow callables, not
the worker, and runs in a thread of its own (:class:`~noormme_queue.engine.loops.
EveryInThread`) so that a handler blocking the worker's event loop keeps its leases.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("noormme_queue.maintenance")

MAX_PERIOD = 5.0  # seconds; renew well before expiry, never rarely

Held = Sequence[tuple[str, str]]
"""``(job_id, claim_token)`` pairs."""


@dataclass(frozen=True, slots=True)
class LeaseReport:
    extended: int
    lost: int


def renewal_period(lease_timeout: float) -> float:
    """Renew three times per lease, at least every five seconds."""
    return min(lease_timeout / 3, MAX_PERIOD)


class LeaseKeeper:
    def __init__(
        self,
        *,
        held: Callable[[], Held],
        extend: Callable[[Held, float], Awaitable[set[str]]],
        on_lost: Callable[[set[str]], None],
        lease_timeout: float,
    ) -> None:
        """``held()`` lists the leases to keep; ``extend(held, until)`` returns the ids no
        longer held; ``on_lost(ids)`` is called (from the keeper's thread) with those."""
        self._held = held
        self._extend = extend
        self._on_lost = on_lost
        self.lease_timeout = lease_timeout

    @property
    def period(self) -> float:
        return renewal_period(self.lease_timeout)

    async def run_once(self, now: float) -> LeaseReport:
        held = self._held()
        if not held:
            return LeaseReport(0, 0)
        lost = await self._extend(held, now + self.lease_timeout)
        if lost:
            self._on_lost(lost)
        return LeaseReport(len(held) - len(lost), len(lost))
