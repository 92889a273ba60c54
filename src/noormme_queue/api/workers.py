"""``/workers`` and ``/activity``: the live workers, and each queue's last hour minute by
minute (the dashboard's charts), behind the API token like every other route. Both read
small kept tables (``noormme_workers``, ``noormme_minutes``), whatever the number of jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..core.workers import ActivityPoint, QueueActivity, WorkerInfo
from ..manager import QueueManager
from .models import Ok
from .route_class import EnvelopeRoute


class WorkerOut(BaseModel):
    """A live worker, as its last heartbeat stored it."""

    id: str
    host: str
    pid: int
    queues: list[str] | None = Field(
        description="the queues it consumes (name or name=concurrency); null: every queue"
    )
    concurrency: int
    types: list[str] = Field(description="the job types it handles")
    jobs: list[str] = Field(description="ids of the jobs it was running")
    started_at: datetime
    heartbeat_at: datetime = Field(description="its last heartbeat, by its clock")
    expires_at: datetime = Field(description="taken for dead after this, unless it beats")
    clock_skew: float = Field(description="seconds its clock is ahead of the database's")

    @classmethod
    def of(cls, w: WorkerInfo) -> WorkerOut:
        return cls(
            id=w.id,
            host=w.host,
            pid=w.pid,
            queues=None if w.queues is None else list(w.queues),
            concurrency=w.concurrency,
            types=list(w.types),
            jobs=list(w.jobs),
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            expires_at=w.expires_at,
            clock_skew=w.clock_skew,
        )


class ActivityPointOut(BaseModel):
    start: datetime
    completed: int
    failed: int = Field(description="failed for good")
    started: int = Field(description="runs started (retries too)")
    wait_avg: float | None = Field(description="mean seconds from due to start")
    wait_max: float | None

    @classmethod
    def of(cls, p: ActivityPoint) -> ActivityPointOut:
        return cls(
            start=p.start,
            completed=p.completed,
            failed=p.failed,
            started=p.started,
            wait_avg=p.wait_avg,
            wait_max=p.wait_max,
        )


class QueueActivityOut(BaseModel):
    queue: str
    points: list[ActivityPointOut] = Field(description="one per minute, oldest first")

    @classmethod
    def of(cls, a: QueueActivity) -> QueueActivityOut:
        return cls(queue=a.queue, points=[ActivityPointOut.of(p) for p in a.points])


def create_workers_router(
    qm: QueueManager,
    *,
    route_class: type[EnvelopeRoute],
    guard: Sequence[Any],
    errors: Callable[..., dict[int | str, dict[str, Any]]],
    auth: tuple[int, ...],
) -> APIRouter:
    """The worker and activity routes of :func:`~noormme_queue.api.routes.create_router`."""
    router = APIRouter(route_class=route_class, tags=["workers"])

    @router.get(
        "/workers",
        response_model=Ok[list[WorkerOut]],
        dependencies=list(guard),
        responses=errors(*auth, 503),
        summary="Live workers in every process and machine, by id",
    )
    async def list_workers() -> Ok[list[WorkerOut]]:
        return Ok(data=[WorkerOut.of(w) for w in await qm.list_workers()])

    @router.get(
        "/activity",
        response_model=Ok[list[QueueActivityOut]],
        dependencies=list(guard),
        responses=errors(*auth, 422, 503),
        summary="Per queue and minute: jobs completed, failed, started, and their wait",
    )
    async def activity(
        window: Annotated[
            float, Query(ge=60, le=86_400, description="seconds back from now")
        ] = 3600.0,
    ) -> Ok[list[QueueActivityOut]]:
        return Ok(data=[QueueActivityOut.of(a) for a in await qm.get_activity(window)])

    return router
