"""Rows <-> Job objects, shared by every backend so that each returns identical jobs.

A row is the tuple every store selects, in ``row_to_job``'s order (times as epoch
seconds, JSON as text); the attempt history is a JSON list of attempts with
epoch-second times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.job import Attempt, AttemptOutcome, Job, JobStatus, to_datetime
from ..core.retry import RetryPolicy
from .base import Failed, Outcome, Released


def claim_order(job: Job) -> tuple[int, Any, str]:
    return (-job.priority, job.run_at, job.id)


def makes_due(outcome: Outcome, now: float) -> bool:
    """Whether settling ``outcome`` makes its job due at once (other workers should look)."""
    if isinstance(outcome, Released):
        return True
    return isinstance(outcome, Failed) and outcome.retry_at is not None and outcome.retry_at <= now


def attempt_json(attempt: Attempt) -> str:
    return json.dumps(
        {
            "attempt": attempt.attempt,
            "outcome": attempt.outcome.value,
            "started_at": None if attempt.started_at is None else attempt.started_at.timestamp(),
            "finished_at": attempt.finished_at.timestamp(),
            "worker_id": attempt.worker_id,
            "error": attempt.error,
            "traceback": attempt.traceback,
        }
    )


def attempt_from_json(data: dict[str, Any]) -> Attempt:
    finished = to_datetime(data.get("finished_at"))
    assert finished is not None
    return Attempt(
        attempt=int(data["attempt"]),
        outcome=AttemptOutcome(data["outcome"]),
        started_at=to_datetime(data.get("started_at")),
        finished_at=finished,
        worker_id=data.get("worker_id"),
        error=data.get("error"),
        traceback=data.get("traceback"),
    )


def row_to_job(row: Sequence[Any]) -> Job:
    (
        id_,
        type_,
        payload,
        status,
        priority,
        attempts,
        max_attempts,
        run_at,
        created_at,
        started_at,
        finished_at,
        result,
        error,
        history,
        retry_policy,
        unique_key,
        timeout,
        worker_id,
        progress,
    ) = row
    run_at_dt = to_datetime(run_at)
    created_dt = to_datetime(created_at)
    assert run_at_dt is not None and created_dt is not None
    return Job(
        id=id_,
        type=type_,
        payload=json.loads(payload),
        status=JobStatus(status),
        priority=priority,
        attempts=attempts,
        max_attempts=max_attempts,
        run_at=run_at_dt,
        created_at=created_dt,
        started_at=to_datetime(started_at),
        finished_at=to_datetime(finished_at),
        result=None if result is None else json.loads(result),
        error=error,
        history=tuple(attempt_from_json(a) for a in json.loads(history)),
        retry_policy=None if retry_policy is None else RetryPolicy(**json.loads(retry_policy)),
        unique_key=unique_key,
        timeout=timeout,
        worker_id=worker_id,
        progress=None if progress is None else json.loads(progress),
    )


def list_jobs_query(
    columns: str,
    mark: str,
    *,
    status: JobStatus | None,
    type: str | None,
    before: str | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The listing query of every store (newest first, ``before`` pages on by id);
    ``mark`` is the dialect's placeholder."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", None if status is None else status.value), ("type", type)):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if before is not None:
        clauses.append(f"id < {mark}")
        params.append(before)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(limit)
    return f"SELECT {columns} FROM noormme_jobs {where} ORDER BY id DESC LIMIT {mark}", params
