"""A job read back as Django's ``TaskResult``: statuses, times, errors, workers, the value.

=============  ==========================================================================
job            TaskResult
=============  ==========================================================================
pending        READY (also between retries: "ready to be executed again")
processing     RUNNING
completed      SUCCESSFUL, ``return_value`` = the job's result
failed         FAILED; ``errors``: one ``TaskError`` per failed attempt (exception class
cancelled      path and traceback); a cancelled job is FAILED with no error of its own
=============  ==========================================================================

``worker_ids`` lists the worker of each attempt (the current one too while it runs), so
``attempts`` counts runs like ``Job.attempts``; ``started_at`` is the first run's start,
``last_attempted_at`` the latest's, ``enqueued_at`` the job's creation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...core.job import AttemptOutcome, Job, JobStatus, to_datetime
from .compat import Task, TaskError, TaskResult, TaskResultStatus

STATUSES = {
    JobStatus.PENDING: TaskResultStatus.READY,
    JobStatus.PROCESSING: TaskResultStatus.RUNNING,
    JobStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}
FINAL = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def new_result(
    task: Task[Any, Any],
    job_id: str,
    args: list[Any],
    kwargs: dict[str, Any],
    backend: str,
    enqueued_at: datetime | None,
) -> TaskResult[Any]:
    """The result ``enqueue`` hands back: READY, nothing run yet."""
    return TaskResult(
        task=task,
        id=job_id,
        status=TaskResultStatus.READY,
        enqueued_at=enqueued_at,
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=args,
        kwargs=kwargs,
        backend=backend,
        errors=[],
        worker_ids=[],
    )


def job_result(task: Task[Any, Any], job: Job, backend: str) -> TaskResult[Any]:
    """``job`` (of ``task``'s type) as Django sees a task's result."""
    worker_ids = [a.worker_id or "" for a in job.history]
    if job.status is JobStatus.PROCESSING and job.worker_id:
        worker_ids.append(job.worker_id)
    errors = [
        TaskError(
            exception_class_path=a.error_type or "builtins.Exception",
            traceback=a.traceback or a.error or "",
        )
        for a in job.history
        if a.outcome is not AttemptOutcome.COMPLETED
    ]
    starts = [a.started_at for a in job.history]
    if job.status is JobStatus.PROCESSING:
        starts.append(job.started_at)  # the run under way
    starts = starts or [job.started_at]
    payload = job.payload if isinstance(job.payload, dict) else {}
    result = TaskResult(
        task=task,
        id=job.id,
        status=STATUSES[job.status],
        enqueued_at=job.created_at,
        started_at=starts[0],
        finished_at=job.finished_at if job.status in FINAL else None,
        last_attempted_at=starts[-1],
        args=list(payload.get("args", [])),
        kwargs=dict(payload.get("kwargs", {})),
        backend=backend,
        errors=errors,
        worker_ids=worker_ids,
    )
    if job.status is JobStatus.COMPLETED:
        object.__setattr__(result, "_return_value", job.result)
    return result


def run_after_of(payload: dict[str, Any]) -> datetime | None:
    """The ``run_after`` the task was enqueued with (kept in the payload)."""
    value = payload.get("run_after")
    return None if value is None else to_datetime(float(value))
