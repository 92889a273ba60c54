"""``GET /jobs/{id}/events``: a job's timeline over HTTP, and who a request acts as.

Every change a request makes is recorded as ``api``; the dashboard says it is the
dashboard with the header ``X-Queue-Client: dashboard`` (any other value is ``api``), so a
timeline tells a click from a script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from ..core.errors import JobNotFound
from ..core.events import EVENTS_LIMIT, EventKind, JobEvent
from ..core.job import JSON
from ..manager import QueueManager
from .models import Ok
from .redact import redact_text
from .route_class import EnvelopeRoute

JobId = Annotated[str, Path(min_length=1, max_length=200, description="a job id (job_...)")]
CLIENT_HEADER = "X-Queue-Client"
API, DASHBOARD = "api", "dashboard"


def request_actor(request: Request) -> str:
    """Who a request acts as: ``dashboard`` when it says so, else ``api``."""
    return DASHBOARD if request.headers.get(CLIENT_HEADER) == DASHBOARD else API


class JobEventOut(BaseModel):
    """One step of a job's timeline; secrets in error texts are shown as ``***``."""

    seq: int = Field(description="orders the job's events")
    at: datetime
    kind: EventKind
    worker: str | None = Field(description="the worker that claimed, ran, released or lost it")
    by: str | None = Field(description="who made it happen: api, dashboard, cli, python, ...")
    attempt: int | None
    detail: dict[str, JSON] = Field(
        description="error_type, error and timed_out (failed), retry_at in Unix seconds "
        "(retry_scheduled), run_at and schedule (enqueued)"
    )

    @classmethod
    def of(cls, event: JobEvent) -> JobEventOut:
        data = event.to_dict()
        if isinstance(data["detail"].get("error"), str):
            data["detail"]["error"] = redact_text(data["detail"]["error"])
        return cls.model_validate(data)


class JobTimelineOut(BaseModel):
    job_id: str
    events: list[JobEventOut] = Field(description="oldest first")


def create_timeline_router(
    qm: QueueManager,
    *,
    route_class: type[EnvelopeRoute],
    guard: Sequence[Any],
    errors: Callable[..., dict[int | str, dict[str, Any]]],
    auth: tuple[int, ...],
) -> APIRouter:
    """The timeline route of :func:`~noormme_queue.api.routes.create_router`."""
    router = APIRouter(route_class=route_class, tags=["queue"])

    @router.get(
        "/jobs/{job_id}/events",
        response_model=Ok[JobTimelineOut],
        dependencies=list(guard),
        responses=errors(*auth, 404, 422, 503),
        summary="A job's timeline: enqueued, claimed, failed, retried, completed, by whom",
    )
    async def job_events(
        job_id: JobId,
        limit: Annotated[int, Query(ge=1, le=10_000)] = EVENTS_LIMIT,
    ) -> Ok[JobTimelineOut]:
        if await qm.get_job(job_id) is None:
            raise JobNotFound(f"no job with id {job_id}")
        events = await qm.get_job_events(job_id, limit=limit)
        return Ok(data=JobTimelineOut(job_id=job_id, events=[JobEventOut.of(e) for e in events]))

    return router
