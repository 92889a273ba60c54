"""Watching jobs run: the hooks that metrics and tracing subscribe to.

The worker tells :class:`Observers` when an attempt starts (in the attempt's own task, just
before its handler is called) and how it ended; the rescuer tells them of each job whose
lease expired. An observer is a plain object: the Prometheus counters
(``contrib/prometheus.py``) and the OpenTelemetry spans (``tracing.py``) implement
:class:`Observer`; the engine imports neither library. With no observer, the worker does
no work for them at all. An observer that raises is logged and never stops a job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Protocol

from ..core.job import Job
from .outcomes import Settled

log = logging.getLogger("noormme_queue.worker")


class AttemptWatch(Protocol):
    """One observer's view of one attempt, from its start to :meth:`ended`."""

    def ended(self, record: Settled | None, now: float) -> None:
        """The attempt ended at ``now``: ``record`` is what the worker saves (completed,
        failed with or without a retry, released by a stop), ``None`` when nothing is
        saved (the job was cancelled or is no longer this worker's)."""
        ...


class Observer:
    """Hooks called on the worker's event loop; override the ones you need."""

    def attempt(self, job: Job, now: float) -> AttemptWatch | None:
        """An attempt of ``job`` starts at ``now``, in its own task, before its handler is
        called (a context set here is the handler's). Returns what hears its end."""
        return None

    def lease_expired(self, job: Job, recovered: bool, now: float) -> None:
        """The rescuer settled ``job``, whose lease had expired: due again
        (``recovered``), or failed for good (its attempts spent)."""


class Observers:
    """The observers of one manager: its worker and rescuer call them."""

    __slots__ = ("_all",)

    def __init__(self) -> None:
        self._all: tuple[Observer, ...] = ()

    def __bool__(self) -> bool:
        return bool(self._all)

    def __iter__(self) -> Iterator[Observer]:
        return iter(self._all)

    def add(self, observer: Observer) -> None:
        """Subscribe ``observer`` (once: adding it again changes nothing)."""
        if observer not in self._all:
            self._all = (*self._all, observer)

    def remove(self, observer: Observer) -> None:
        self._all = tuple(o for o in self._all if o is not observer)

    def attempt(self, job: Job, now: float) -> Sequence[AttemptWatch]:
        watches = []
        for observer in self._all:
            try:
                watch = observer.attempt(job, now)
            except Exception:
                log.exception("observer %r failed at the start of job %s", observer, job.id)
                continue
            if watch is not None:
                watches.append(watch)
        return watches

    @staticmethod
    def ended(watches: Sequence[AttemptWatch], record: Settled | None, now: float) -> None:
        for watch in reversed(watches):  # the last one started is the first to end
            try:
                watch.ended(record, now)
            except Exception:
                log.exception("observer %r failed at the end of an attempt", watch)

    def lease_expired(self, job: Job, recovered: bool, now: float) -> None:
        for observer in self._all:
            try:
                observer.lease_expired(job, recovered, now)
            except Exception:
                log.exception("observer %r failed on the expired lease of %s", observer, job.id)
