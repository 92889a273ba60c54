"""What a job handler is: a callable taking the job, or an object with ``process(job)``.

The object form may also have ``on_complete(job)``, ``on_failure(job, error)``, a pydantic
``payload_model`` checked at enqueue, ``check_payload(payload)`` for checks a model cannot
make (it raises ``InvalidPayload``; the built-in image handler checks its input roots
there) and ``retry_policy_for(payload)`` giving a job's default retry policy. Either form
may be sync (run on a thread) or async. A handler never sees the store: it gets the job and
returns a JSON result or raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .job import Job


@runtime_checkable
class JobHandler(Protocol):
    """The object form of a handler; only ``process`` is required."""

    def process(self, job: Job) -> Any: ...


HandlerLike = JobHandler | Callable[[Job], Any]
