"""Progress a running handler saves with its job, without seeing the store.

A handler that works through a list (a newsletter's recipients) saves how far
it got; if the job is retried, or its worker dies, the next run finds it in
``job.progress`` and carries on from there::

    async def process(job):
        done = set((job.progress or {}).get("sent", []))
        for address in job.payload["to"]:
            if address not in done:
                await send(address)
                done.add(address)
                await save_progress({"sent": sorted(done)})

The worker installs a reporter for each running job; outside a worker
(a handler called directly, an in-memory queue) ``save_progress`` does nothing
and returns ``False``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from .job import JSON


class ProgressReporter(Protocol):
    async def save(self, progress: JSON) -> bool:
        """Persist ``progress`` on the running job; ``False`` if the job is no longer ours."""
        ...


current_reporter: ContextVar[ProgressReporter | None] = ContextVar(
    "noormme_queue_progress_reporter", default=None
)


async def save_progress(progress: JSON) -> bool:
    """Store ``progress`` (any JSON value) on the job this handler is running."""
    reporter = current_reporter.get()
    if reporter is None:
        return False
    return await reporter.save(progress)
