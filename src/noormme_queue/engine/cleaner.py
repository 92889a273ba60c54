"""Cleanup: completed and cancelled jobs older than the retention are deleted, in small
batches so that claims never wait behind it. Failed jobs stay: they are the dead-letter
record until a person retries or removes them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("noormme_queue.maintenance")

PURGE_BATCH = 500
SECONDS_PER_DAY = 86_400.0


class Cleaner:
    def __init__(
        self,
        *,
        purge: Callable[[float, int], Awaitable[int]],
        older_than_days: float,
        forget_minutes: Callable[[float], Awaitable[int]] | None = None,
    ) -> None:
        """``purge(finished_before, limit)`` deletes up to ``limit`` jobs, returns how many;
        ``forget_minutes(before)`` drops the kept per-minute throughput before that time."""
        self._purge = purge
        self._forget_minutes = forget_minutes
        self.older_than_days = older_than_days

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
            batch = await self._purge(cutoff, PURGE_BATCH)
            removed += batch
            if on_batch is not None:
                on_batch(batch)
            if batch < PURGE_BATCH:
                break
        if self._forget_minutes is not None:
            await self._forget_minutes(cutoff)
        if removed:
            log.info("cleanup removed %d finished job(s) older than %s day(s)", removed, days)
        return removed
