"""``noormme-queue schedules``: list recurring jobs, run one now, pause or resume one."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
from rich.text import Text

from ..core.cron import Timing
from ..core.schedule import Schedule
from .common import Shared, fail, query, shared_options
from .output import STATUS_COLOURS, Column, columns, echo, out

SCHEDULE_COLUMNS = (
    Column("name", shrink=True),
    Column("type", shrink=True),
    Column("when", shrink=True),
    Column("next run (UTC)"),
    Column("last run (UTC)"),
    Column("last"),
)


def schedule_lines(schedules: Sequence[Schedule], width: int) -> list[Text]:
    """One line per schedule: its timing, next and last run, and its last job's outcome."""
    rows = []
    for s in schedules:
        every = None if s.every is None else s.every.total_seconds()
        status = "—" if s.last_status is None else s.last_status.value
        rows.append(
            [
                (s.name, ""),
                (s.job_type, ""),
                (Timing(s.cron, every, s.timezone).describe(), ""),
                ("paused" if s.paused else f"{s.next_run_at:%Y-%m-%d %H:%M:%S}", ""),
                ("—" if s.last_run_at is None else f"{s.last_run_at:%Y-%m-%d %H:%M:%S}", ""),
                (status, STATUS_COLOURS.get(status, "")),
            ]
        )
    return columns(SCHEDULE_COLUMNS, rows, width)


@click.group()
@shared_options
def schedules() -> None:
    """List recurring jobs, run one now, pause or resume one."""


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@shared_options
@click.pass_obj
def schedules_list(obj: Shared, as_json: bool) -> None:
    """Every schedule: when it ticks, its next and last run, its last job's outcome."""
    found = query(obj, lambda qm: qm.list_schedules())
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found]))
    elif not found:
        click.echo("no schedules")
    else:
        echo(schedule_lines(found, out.width))


@schedules.command("run-now")
@click.argument("name")
@shared_options
@click.pass_obj
def schedules_run_now(obj: Shared, name: str) -> None:
    """Enqueue one job of a schedule, due now (its ticks go on as before)."""
    job_id = query(obj, lambda qm: qm.run_schedule_now(name))
    if job_id is None:
        fail(f"no schedule named {name!r}")
    click.echo(f"enqueued {job_id} from schedule {name}")


@schedules.command("pause")
@click.argument("name")
@shared_options
@click.pass_obj
def schedules_pause(obj: Shared, name: str) -> None:
    """Stop a schedule's ticks, in every worker, until it is resumed."""
    if not query(obj, lambda qm: qm.pause_schedule(name)):
        fail(f"no schedule named {name!r}")
    click.echo(f"paused {name}")


@schedules.command("resume")
@click.argument("name")
@shared_options
@click.pass_obj
def schedules_resume(obj: Shared, name: str) -> None:
    """Tick again from the next tick on (ticks that passed while paused are skipped)."""
    if not query(obj, lambda qm: qm.resume_schedule(name)):
        fail(f"no schedule named {name!r}")
    found = query(obj, lambda qm: qm.get_schedule(name))
    next_run = "" if found is None else f"; next run {found.next_run_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"resumed {name}{next_run}")
