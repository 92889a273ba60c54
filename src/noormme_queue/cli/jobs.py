"""``noormme-queue jobs``: list, show, cancel and retry persistent jobs."""

from __future__ import annotations

import json

import click

from ..core.events import JobEvent
from ..core.job import Job
from ..manager import QueueManager
from .common import Shared, fail, query, shared_options
from .output import STATUS_COLOURS, echo, job_detail_lines, job_lines, out
from .timeline import timeline_lines

CLI = "cli"  # who the timeline says cancelled or retried a job from here


@click.group()
@shared_options
def jobs() -> None:
    """List, show, cancel and retry jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(list(STATUS_COLOURS)), default=None)
@click.option("--type", "job_type", default=None, help="only jobs of this type")
@click.option("--queue", default=None, help="only jobs of this queue")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@shared_options
@click.pass_obj
def jobs_list(
    obj: Shared,
    status: str | None,
    job_type: str | None,
    queue: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Jobs, newest first: one line each, the last error of a job on the line below it."""
    found = query(
        obj, lambda qm: qm.list_jobs(status=status, type=job_type, limit=limit, queue=queue)
    )
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in found]))
    elif not found:
        click.echo("no jobs")
    else:
        echo(job_lines(found, out.width, show_queue=False if queue else None))


def _need(job: Job | None, job_id: str) -> Job:
    if job is None:
        fail(f"no job with id {job_id}")
    return job


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
@shared_options
@click.pass_obj
def jobs_show(obj: Shared, job_id: str, as_json: bool) -> None:
    """Everything about one job (empty values as null), with each attempt's traceback,
    then its timeline: what happened when, on which worker, and who asked."""
    job, events = query(obj, lambda qm: _with_events(qm, job_id))
    job = _need(job, job_id)
    if as_json:
        click.echo(json.dumps({**job.to_dict(), "events": [e.to_dict() for e in events]}))
    else:
        echo([*job_detail_lines(job, out.width), *timeline_lines(events, out.width)])


async def _with_events(qm: QueueManager, job_id: str) -> tuple[Job | None, list[JobEvent]]:
    job = await qm.get_job(job_id)
    return job, [] if job is None else await qm.get_job_events(job_id)


async def _change(qm: QueueManager, job_id: str, retry: bool) -> tuple[Job | None, bool]:
    job = await qm.get_job(job_id)
    if job is None:
        return None, False
    return job, await (qm.retry_job(job_id, by=CLI) if retry else qm.cancel_job(job_id, by=CLI))


@jobs.command("cancel")
@click.argument("job_id")
@shared_options
@click.pass_obj
def jobs_cancel(obj: Shared, job_id: str) -> None:
    """Cancel a pending or running job."""
    job, done = query(obj, lambda qm: _change(qm, job_id, retry=False))
    if not done:
        fail(
            f"job {job_id} is {_need(job, job_id).status.value}; only pending or processing "
            "jobs can be cancelled"
        )
    click.echo(f"cancelled {job_id}")


@jobs.command("retry")
@click.argument("job_id")
@shared_options
@click.pass_obj
def jobs_retry(obj: Shared, job_id: str) -> None:
    """Run a failed or cancelled job again."""
    job, done = query(obj, lambda qm: _change(qm, job_id, retry=True))
    if not done:
        fail(
            f"job {job_id} is {_need(job, job_id).status.value}; only failed or cancelled jobs "
            "can be retried"
        )
    click.echo(f"{job_id} is pending again")
