"""``create_router``: the ``/api/queue`` endpoints over one QueueManager.

Routes call the manager only (never the store). Every answer is the envelope
of DESIGN.md; payloads are redacted on the way out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from ..core.errors import InvalidJob, JobNotFound
from ..core.job import JobStatus, QueueInfo
from ..core.routing import TypeDefinition, check_queue_name
from ..manager import QueueManager
from .auth import token_guard
from .errors import ApiError, from_exception
from .models import (
    QUEUE_NAME_PATTERN,
    CleanupOut,
    CleanupRequest,
    EnqueueRequest,
    ErrorOut,
    HealthOut,
    JobOut,
    JobPage,
    MemoryQueueStatsOut,
    Ok,
    QueueChangeOut,
    QueueList,
    QueueOut,
    QueueStatsOut,
    QueueStatusOut,
    StatsOut,
    ThroughputPointOut,
)
from .openapi_payloads import enqueue_openapi_extra, typed_payload_schemas
from .route_class import BODY_MARGIN, envelope_route_class
from .schedules import create_schedule_router
from .timeline import JobId, create_timeline_router, request_actor
from .workers import create_workers_router

MAX_PAGE = 500
QUEUE_NAME_RULE = "1-64 letters, digits, '_', '-', '.' or ':', starting with a letter or digit"
# The pattern is published, not enforced here: check_queue_name's message says what is wrong.
QueueName = Annotated[
    str,
    Path(
        description=f"a queue name: {QUEUE_NAME_RULE}",
        json_schema_extra={"pattern": QUEUE_NAME_PATTERN},
    ),
]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "missing or wrong token",
        403: "job type not allowed over HTTP",
        404: "no job with this id",
        409: "the job is in the wrong state for this",
        422: "invalid input; `field` names it",
        503: "the job store is unavailable",
    }
    return {code: {"model": ErrorOut, "description": descriptions[code]} for code in codes}


def _queue_name(name: str, field: str) -> str:
    """``name`` if it is a valid queue name, else a 422 naming ``field`` (the query's
    ``queue``, the path's ``name``; never ``options.queue``)."""
    try:
        return check_queue_name(name, field=field)
    except InvalidJob as exc:
        raise ApiError(422, "invalid_input", str(exc), field) from exc


def create_router(
    qm: QueueManager,
    *,
    token: str | None = None,
    allowed_types: Collection[str] | None = None,
    dashboard: bool = True,
) -> APIRouter:
    """The queue's REST API, to mount with ``app.include_router(router, prefix="/api/queue")``.

    ``token`` (default: ``qm.config.api_token``, i.e. ``QUEUE_API_TOKEN``) is required as a
    bearer token on every endpoint but ``/health``; it is checked before a request body is
    read, and bodies over ``QUEUE_MAX_PAYLOAD_BYTES`` plus 64 KiB are refused (413) while they
    stream. ``HEAD`` works wherever ``GET`` does. ``allowed_types`` limits the job types
    that ``POST /jobs`` accepts (default: every type with a handler registered on ``qm``).
    With ``dashboard`` the dashboard is served at ``<prefix>/dashboard``.
    """
    token = token if token is not None else qm.config.api_token
    allowed = None if allowed_types is None else frozenset(allowed_types)
    guard = [Depends(token_guard(token))] if token else []
    auth_errors = (401,) if token else ()

    # The token is checked and the body capped before the body is read (route_class.py).
    route_class = envelope_route_class(qm.config.max_payload_bytes + BODY_MARGIN)
    router = APIRouter(route_class=route_class, tags=["queue"])

    @router.get("/health", response_model=Ok[HealthOut], summary="Liveness (no token needed)")
    async def health() -> Ok[HealthOut]:
        return Ok(data=HealthOut(started=qm.loop is not None))

    @router.get(
        "/stats",
        response_model=Ok[StatsOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 422, 503),
        summary="Persistent counts, in-memory queues, worker status and throughput",
    )
    async def stats(
        queue: Annotated[
            str | None,
            Query(
                description="count only the persistent jobs of this queue (throughput stays"
                f" of every queue; a queue with no jobs counts zeros): {QUEUE_NAME_RULE}",
                json_schema_extra={"pattern": QUEUE_NAME_PATTERN},
            ),
        ] = None,
    ) -> Ok[StatsOut]:
        persistent = await qm.get_stats(None if queue is None else _queue_name(queue, "queue"))
        throughput = await qm.get_throughput(window=1800.0, bucket=60.0)
        memory = {
            name: MemoryQueueStatsOut.model_validate(values)
            for name, values in qm.get_all_in_memory_stats().items()
        }
        return Ok(
            data=StatsOut(
                persistent=QueueStatsOut.of(persistent),
                memory=memory,
                status=QueueStatusOut.of(qm.get_status()),
                throughput=[ThroughputPointOut.of(p) for p in throughput],
            )
        )

    @router.get(
        "/jobs",
        response_model=Ok[JobPage],
        dependencies=guard,
        responses=_errors(*auth_errors, 422, 503),
        summary="Jobs newest first, filtered, one page at a time",
    )
    async def list_jobs(
        status: Annotated[JobStatus | None, Query()] = None,
        type: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[
            str | None,
            Query(min_length=1, max_length=200, description="next_cursor of the previous page"),
        ] = None,
        queue: Annotated[
            str | None,
            Query(
                description=f"only jobs of this queue ({QUEUE_NAME_RULE})",
                json_schema_extra={"pattern": QUEUE_NAME_PATTERN},
            ),
        ] = None,
    ) -> Ok[JobPage]:
        if queue is not None:
            _queue_name(queue, "queue")
        # One more than asked tells whether another page exists.
        found = await qm.list_jobs(
            status=status, type=type, limit=limit + 1, before=cursor, queue=queue
        )
        page = found[:limit]
        next_cursor = page[-1].id if len(found) > limit else None
        return Ok(data=JobPage(jobs=[JobOut.of(j) for j in page], next_cursor=next_cursor))

    @router.post(
        "/jobs",
        status_code=201,
        response_model=Ok[JobOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 403, 422, 503),
        summary="Enqueue a job (options in snake_case or the specification's camelCase)",
        openapi_extra=enqueue_openapi_extra(
            typed_payload_schemas({t: h.source for t, h in qm.handlers.items()})
        ),
    )
    async def add_job(request: Annotated[EnqueueRequest, Body()], http: Request) -> Ok[JobOut]:
        permitted = allowed if allowed is not None else frozenset(qm.handlers)
        if request.type not in permitted:
            if request.type in qm.handlers:
                raise ApiError(
                    403,
                    "forbidden",
                    f"job type {request.type!r} may not be enqueued over HTTP",
                    "type",
                )
            raise ApiError(
                422,
                "invalid_input",
                f"unknown job type {request.type!r}; expected one of "
                f"{', '.join(sorted(permitted)) or '(none)'}",
                "type",
            )
        try:
            options = request.options.to_kwargs()
            job_id = await qm.add_job(
                request.type, request.payload, by=request_actor(http), **options
            )
        except InvalidJob as exc:  # name the option as this request spelled it
            raise from_exception(exc, request.options.spelling) from exc
        return Ok(data=await _load(job_id))

    @router.get(
        "/jobs/{job_id}",
        response_model=Ok[JobOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 404, 422, 503),
        summary="One job with its result, error and attempt history",
    )
    async def get_job(job_id: JobId) -> Ok[JobOut]:
        return Ok(data=await _load(job_id))

    @router.delete(
        "/jobs/{job_id}",
        response_model=Ok[JobOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 404, 409, 422, 503),
        summary="Cancel a pending or running job",
    )
    async def cancel_job(job_id: JobId, http: Request) -> Ok[JobOut]:
        await _load(job_id)
        if not await qm.cancel_job(job_id, by=request_actor(http)):
            job = await _load(job_id)
            raise ApiError(
                409,
                "conflict",
                f"job {job_id} is {job.status.value}; only pending or processing jobs can be "
                "cancelled",
            )
        return Ok(data=await _load(job_id))

    @router.post(
        "/jobs/{job_id}/retry",
        response_model=Ok[JobOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 404, 409, 422, 503),
        summary="Run a failed or cancelled job again, now",
    )
    async def retry_job(job_id: JobId, http: Request) -> Ok[JobOut]:
        await _load(job_id)
        if not await qm.retry_job(job_id, by=request_actor(http)):
            job = await _load(job_id)
            reason = (
                "only failed or cancelled jobs can be retried"
                if job.status.value not in ("failed", "cancelled")
                else f"another live job holds its unique_key {job.unique_key!r}"
            )
            raise ApiError(409, "conflict", f"job {job_id} is {job.status.value}; {reason}")
        return Ok(data=await _load(job_id))

    @router.post(
        "/cleanup",
        response_model=Ok[CleanupOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 422, 503),
        summary="Remove old completed and cancelled jobs (failed jobs stay)",
    )
    async def cleanup(
        request: Annotated[CleanupRequest | None, Body()] = None,
    ) -> Ok[CleanupOut]:
        days = None if request is None else request.older_than_days
        return Ok(data=CleanupOut(removed=await qm.cleanup(days)))

    @router.get(
        "/queues",
        response_model=Ok[QueueList],
        dependencies=guard,
        responses=_errors(*auth_errors, 503),
        summary="Every queue: paused or not, its jobs by status, its types and their limits",
    )
    async def list_queues() -> Ok[QueueList]:
        return Ok(data=QueueList(queues=await _queues()))

    @router.post(
        "/queues/{name:path}/pause",
        response_model=Ok[QueueChangeOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 422, 503),
        summary="Pause a queue in every process: its jobs stay pending (any valid name)",
    )
    async def pause_queue(name: QueueName) -> Ok[QueueChangeOut]:
        changed = await qm.pause_queue(_queue_name(name, "name"))
        return Ok(data=QueueChangeOut(queue=await _queue(name), changed=changed))

    @router.post(
        "/queues/{name:path}/resume",
        response_model=Ok[QueueChangeOut],
        dependencies=guard,
        responses=_errors(*auth_errors, 422, 503),
        summary="Let every worker take the queue's jobs again",
    )
    async def resume_queue(name: QueueName) -> Ok[QueueChangeOut]:
        changed = await qm.resume_queue(_queue_name(name, "name"))
        return Ok(data=QueueChangeOut(queue=await _queue(name), changed=changed))

    async def _queues() -> list[QueueOut]:
        by_queue: dict[str, list[TypeDefinition]] = {}
        for definition in await qm.list_types():
            by_queue.setdefault(definition.queue, []).append(definition)
        infos = {info.name: info for info in await qm.list_queues()}
        for name in by_queue.keys() - infos.keys():  # defined meanwhile: show it all the same
            infos[name] = QueueInfo(name)
        return [QueueOut.of(infos[n], by_queue.get(n, [])) for n in sorted(infos)]

    async def _queue(name: str) -> QueueOut:
        found = [q for q in await _queues() if q.name == name]
        return found[0] if found else QueueOut.of(QueueInfo(name), [])

    async def _load(job_id: str) -> JobOut:
        job = await qm.get_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return JobOut.of(job)

    router.include_router(
        create_timeline_router(
            qm,
            route_class=route_class,
            guard=guard,
            errors=_errors,
            auth=auth_errors,
        )
    )
    router.include_router(
        create_schedule_router(
            qm,
            route_class=route_class,
            guard=guard,
            errors=_errors,
            auth=auth_errors,
            allowed=allowed,
        )
    )
    router.include_router(
        create_workers_router(
            qm, route_class=route_class, guard=guard, errors=_errors, auth=auth_errors
        )
    )
    if dashboard:
        from .dashboard import create_dashboard_router

        router.include_router(create_dashboard_router(), prefix="/dashboard")
    return router
