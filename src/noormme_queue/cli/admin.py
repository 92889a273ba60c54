"""``stats``, ``cleanup`` and ``schema``: one-shot commands that run no worker."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from .common import Shared, fail, query, run_on, shared_options
from .output import echo, out, stats_lines


@click.command()
@click.option("--queue", default=None, help="count only the jobs of this queue")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@shared_options
@click.pass_obj
def stats(obj: Shared, queue: str | None, as_json: bool) -> None:
    """Counts of jobs by status (of one queue with --queue)."""
    counts = query(obj, lambda qm: qm.get_stats(queue)).to_dict()
    if as_json:
        click.echo(json.dumps(counts))
    else:
        echo(stats_lines(counts, out.width))


@click.command()
@click.option(
    "--older-than-days",
    type=click.FloatRange(min=0),
    envvar="QUEUE_CLEANUP_DAYS",
    show_envvar=True,
    default=None,
    help="age of completed/cancelled jobs to remove [default: 7]",
)
@shared_options
@click.pass_obj
def cleanup(obj: Shared, older_than_days: float | None) -> None:
    """Remove old completed and cancelled jobs (failed jobs stay)."""
    qm = obj.existing(obj.manager())
    console = Console(stderr=True)
    if not console.is_terminal:
        removed = run_on(qm, lambda qm: qm.cleanup(older_than_days))
        click.echo(f"removed {removed} job(s)")
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        task = progress.add_task("removing finished jobs", total=None)
        removed_so_far = 0

        def on_batch(count: int) -> None:
            nonlocal removed_so_far
            removed_so_far += count
            progress.update(task, description=f"removed {removed_so_far} jobs")

        removed = run_on(qm, lambda qm: qm.cleanup(older_than_days, on_batch=on_batch))
    click.echo(f"removed {removed} job(s)")


@click.command()
@click.argument("job_type", required=False)
@shared_options
@click.pass_obj
def schema(obj: Shared, job_type: str | None) -> None:
    """JSON Schema of the payload of every job type that declares a model (or of one); with
    --app, its custom handlers too."""
    from ..handlers.payload import payload_schemas

    qm = obj.manager(builtins=True)  # opens nothing: handlers only
    schemas = payload_schemas({t: h.source for t, h in qm.handlers.items()})
    if job_type is not None:
        if job_type not in schemas:
            fail(f"no payload model for job type {job_type!r}; known: {', '.join(schemas)}")
        click.echo(json.dumps(schemas[job_type], indent=2))
        return
    click.echo(json.dumps(schemas, indent=2))
