"""``/schedules``: recurring jobs over HTTP, behind the API token like every other route.

``GET /schedules`` lists them (next tick, the two after it, the last job's outcome);
``PUT /schedules/{name}`` creates or updates one (201 or 200: declarative, like
``qm.schedule``); ``DELETE`` removes it; ``POST .../pause``, ``.../resume`` and
``.../run`` (one job now) steer it. A schedule's job type must be one ``POST /jobs``
accepts, since every tick enqueues it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, Field

from ..core.cron import Timing
from ..core.errors import InvalidJob
from ..core.job import JSON, JobStatus
from ..core.schedule import Schedule
from ..manager import QueueManager
from .errors import ApiError, from_exception
from .models import JobOptionsIn, JobOut, Ok, _In
from .redact import redact
from .route_class import EnvelopeRoute

ScheduleName = Annotated[str, Path(min_length=1, max_length=200, description="its name")]
UPCOMING = 3


class ScheduleIn(_In):
    """What ``qm.schedule`` takes: one of ``cron`` (in ``timezone``) or ``every`` (seconds)."""

    type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            validation_alias=AliasChoices("type", "job_type", "jobType"),
            description="the job type each tick enqueues",
        ),
    ]
    payload: JSON = Field(default=None, description="the payload of every job")
    cron: Annotated[str | None, Field(max_length=200, examples=["0 3 * * *"])] = None
    every: Annotated[float | None, Field(description="seconds between ticks (>= 1)")] = None
    timezone: Annotated[str, Field(max_length=100, description="IANA zone of cron")] = "UTC"
    missed: Annotated[str, Field(description="latest, all or none")] = "latest"
    options: JobOptionsIn = Field(default_factory=JobOptionsIn)


class ScheduleOut(BaseModel):
    """A schedule; secrets in its payload are shown as ``***``."""

    name: str
    job_type: str
    payload: JSON
    cron: str | None
    every: float | None = Field(description="seconds between ticks")
    timezone: str
    description: str = Field(description="its timing in words: '0 3 * * * (UTC)', 'every 30s'")
    next_run_at: datetime
    upcoming: list[datetime] = Field(description="the next ticks (none while paused)")
    last_run_at: datetime | None
    last_job_id: str | None
    last_status: JobStatus | None = Field(description="the outcome of the last job it made")
    paused: bool
    missed: str
    options: dict[str, JSON]
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        every = None if schedule.every is None else schedule.every.total_seconds()
        timing = Timing(schedule.cron, every, schedule.timezone)
        upcoming = (
            [] if schedule.paused else timing.upcoming(schedule.next_run_at.timestamp(), UPCOMING)
        )
        data = schedule.to_dict()
        data["payload"] = redact(data["payload"])
        return cls.model_validate(
            data
            | {
                "description": timing.describe(),
                "upcoming": [
                    datetime.fromtimestamp(t, schedule.next_run_at.tzinfo) for t in upcoming
                ],
            }
        )


def create_schedule_router(
    qm: QueueManager,
    *,
    route_class: type[EnvelopeRoute],
    guard: Sequence[Any],
    errors: Callable[..., dict[int | str, dict[str, Any]]],
    auth: tuple[int, ...],
    allowed: Collection[str] | None,
) -> APIRouter:
    """The schedule routes of :func:`~noormme_queue.api.routes.create_router` (its route
    class, so the token and the body cap come before the body; its guard, error
    documentation and allowed job types)."""
    router = APIRouter(route_class=route_class, tags=["schedules"])

    async def load(name: str) -> Schedule:
        found = await qm.get_schedule(name)
        if found is None:
            raise ApiError(404, "not_found", f"no schedule named {name!r}")
        return found

    @router.get(
        "/schedules",
        response_model=Ok[list[ScheduleOut]],
        dependencies=list(guard),
        responses=errors(*auth, 503),
        summary="Recurring jobs, by name, with their next ticks and last outcome",
    )
    async def list_schedules() -> Ok[list[ScheduleOut]]:
        return Ok(data=[ScheduleOut.of(s) for s in await qm.list_schedules()])

    @router.get(
        "/schedules/{name:path}",
        response_model=Ok[ScheduleOut],
        dependencies=list(guard),
        responses=errors(*auth, 404, 503),
        summary="One recurring job",
    )
    async def get_schedule(name: ScheduleName) -> Ok[ScheduleOut]:
        return Ok(data=ScheduleOut.of(await load(name)))

    @router.put(
        "/schedules/{name:path}",
        status_code=201,
        response_model=Ok[ScheduleOut],
        dependencies=list(guard),
        responses=errors(*auth, 403, 422, 503)
        | {200: {"description": "updated in place"}, 404: {"description": "a name no URL holds"}},
        summary="Create a recurring job (201), or update the one with this name (200)",
    )
    async def put_schedule(name: ScheduleName, request: Annotated[ScheduleIn, Body()]) -> Any:
        permitted = frozenset(allowed) if allowed is not None else frozenset(qm.handlers)
        if request.type not in permitted:
            code, error = (
                (403, "forbidden") if request.type in qm.handlers else (422, "invalid_input")
            )
            raise ApiError(
                code,
                error,
                f"job type {request.type!r} may not be scheduled over HTTP; expected one of "
                f"{', '.join(sorted(permitted)) or '(none)'}",
                "type",
            )
        existed = await qm.get_schedule(name) is not None
        try:
            saved = await qm.schedule(
                name,
                request.type,
                request.payload,
                cron=request.cron,
                every=request.every,
                timezone=request.timezone,
                missed=request.missed,
                **request.options.to_kwargs(),
            )
        except InvalidJob as exc:  # name the option as this request spelled it
            raise from_exception(exc, request.options.spelling) from exc
        body = Ok(data=ScheduleOut.of(saved))
        if existed:
            return JSONResponse(body.model_dump(mode="json"), status_code=200)
        return body

    @router.delete(
        "/schedules/{name:path}",
        response_model=Ok[ScheduleOut],
        dependencies=list(guard),
        responses=errors(*auth, 404, 503),
        summary="Remove a recurring job (the jobs it made stay)",
    )
    async def delete_schedule(name: ScheduleName) -> Ok[ScheduleOut]:
        found = await load(name)
        if not await qm.unschedule(name):
            raise ApiError(404, "not_found", f"no schedule named {name!r}")
        return Ok(data=ScheduleOut.of(found))

    for action, summary in (
        ("pause", "Stop a recurring job's ticks, in every process, until resumed"),
        ("resume", "Tick again from the next tick (those missed while paused are skipped)"),
    ):

        async def steer(name: ScheduleName, _action: str = action) -> Ok[ScheduleOut]:
            await load(name)
            done = qm.pause_schedule if _action == "pause" else qm.resume_schedule
            if not await done(name):
                raise ApiError(404, "not_found", f"no schedule named {name!r}")
            return Ok(data=ScheduleOut.of(await load(name)))

        router.add_api_route(
            f"/schedules/{{name:path}}/{action}",
            steer,
            methods=["POST"],
            response_model=Ok[ScheduleOut],
            dependencies=list(guard),
            responses=errors(*auth, 404, 503),
            summary=summary,
            name=f"{action}_schedule",
        )

    @router.post(
        "/schedules/{name:path}/run",
        status_code=201,
        response_model=Ok[JobOut],
        dependencies=list(guard),
        responses=errors(*auth, 404, 503),
        summary="Enqueue one job of a recurring job now (its ticks go on as before)",
    )
    async def run_schedule(name: ScheduleName) -> Ok[JobOut]:
        job_id = await qm.run_schedule_now(name)
        job = None if job_id is None else await qm.get_job(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no schedule named {name!r}")
        return Ok(data=JobOut.of(job))

    return router
