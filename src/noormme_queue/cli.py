"""The ``noormme-queue`` command line (also ``python -m noormme_queue``).

Every option can also be set by the environment variable shown in ``--help``.
Failures exit non-zero with a one-line reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from .core.config import QueueConfig
from .core.errors import QueueError
from .core.job import Job
from .manager import QueueManager

T = TypeVar("T")
out = Console()
err = Console(stderr=True)

STATUS_COLOURS = {
    "pending": "yellow",
    "processing": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def _typed(ctx: click.Context, name: str) -> bool:
    """Whether the option was given on the command line (not read from its QUEUE_* variable)."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


class Context:
    def __init__(self, database_url: str | None, *, database_url_typed: bool = False) -> None:
        self.database_url = database_url
        # An --app manager reads QUEUE_DATABASE_URL itself; only a typed flag contradicts it.
        self.database_url_typed = database_url_typed

    def config(self, **overrides: Any) -> QueueConfig:
        config = QueueConfig.from_env()
        values = {k: v for k, v in overrides.items() if v is not None}
        if self.database_url:
            values["database_url"] = self.database_url
        if not values:
            return config
        from dataclasses import replace

        return replace(config, **values)

    def manager(self) -> QueueManager:
        """A manager for management commands: no worker, no built-in handlers to load."""
        return QueueManager(self.config(), builtins=False)


def fail(message: str) -> None:
    # One line, never wrapped, so scripts and logs can grep it.
    click.secho(f"error: {' '.join(message.split())}", fg="red", err=True)
    sys.exit(1)


def run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async command; a QueueError becomes a one-line message and exit code 1."""
    try:
        return asyncio.run(factory())
    except QueueError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc


async def _with(qm: QueueManager, work: Callable[[QueueManager], Awaitable[T]]) -> T:
    try:
        return await work(qm)
    finally:
        await qm.stop()


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err, show_path=False)],
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option(
    "--database-url",
    envvar="QUEUE_DATABASE_URL",
    show_envvar=True,
    default=None,
    help="sqlite:///path/to/queue.db (default sqlite:///./data/queue.db)",
)
@click.version_option(package_name="noormme-queue")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """noormme-queue: background jobs on one SQLite file. Settings come from QUEUE_*
    variables; options below override them."""
    ctx.obj = Context(database_url, database_url_typed=_typed(ctx, "database_url"))


@cli.command()
@click.option(
    "--app",
    envvar="QUEUE_APP",
    show_envvar=True,
    default=None,
    help="module:attribute of your QueueManager (or a factory of one), with handlers registered",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    envvar="QUEUE_CONCURRENCY",
    show_envvar=True,
    default=None,
    help="jobs run at once [default: 5]",
)
@click.option("--log-level", envvar="QUEUE_LOG_LEVEL", show_envvar=True, default="info")
@click.pass_obj
def worker(obj: Context, app: str | None, concurrency: int | None, log_level: str) -> None:
    """Run a worker until SIGTERM or SIGINT (twice: stop at once)."""
    setup_logging(log_level)
    from .runner import run_until_signalled

    concurrency_typed = _typed(click.get_current_context(), "concurrency")

    def build() -> QueueManager:
        if app is None:
            return QueueManager(obj.config(concurrency=concurrency))
        from .apploader import load_manager

        qm = load_manager(app)
        if concurrency_typed or obj.database_url_typed:
            fail(
                "--concurrency and --database-url cannot change an --app manager; set them "
                "in its QueueConfig or through QUEUE_* variables"
            )
        return qm

    async def main() -> None:
        await run_until_signalled(build())

    run(main)


@cli.command()
@click.option(
    "--app",
    envvar="QUEUE_APP",
    show_envvar=True,
    default=None,
    help="module:attribute of your QueueManager; without it, a demo app runs",
)
@click.option(
    "--host",
    envvar="QUEUE_HOST",
    show_envvar=True,
    default="127.0.0.1",
    help="address to listen on; any but loopback needs QUEUE_API_TOKEN",
)
@click.option(
    "--port", envvar="QUEUE_PORT", show_envvar=True, type=click.IntRange(0, 65535), default=8000
)
@click.option("--log-level", envvar="QUEUE_LOG_LEVEL", show_envvar=True, default="info")
@click.pass_obj
def serve(obj: Context, app: str | None, host: str, port: int, log_level: str) -> None:
    """Run the queue service: worker, REST API (/api/queue) and dashboard (/queue) in one
    process, until SIGTERM or SIGINT. Needs the api extra. The API token is QUEUE_API_TOKEN."""
    setup_logging(log_level)
    try:
        from .api.server import serve_forever
    except ImportError as exc:
        fail(f"serve needs FastAPI and uvicorn: pip install 'noormme-queue[api]' ({exc})")
        raise AssertionError("unreachable") from exc

    async def main() -> None:
        before_start = None
        if app is None:
            from .demo import create_demo_manager, enqueue_demo_jobs

            qm = create_demo_manager(obj.config())
            before_start = enqueue_demo_jobs
        else:
            from .apploader import load_manager

            qm = load_manager(app)
            if obj.database_url_typed:
                fail(
                    "--database-url cannot change an --app manager; set it in its QueueConfig "
                    "or through QUEUE_DATABASE_URL"
                )
        await serve_forever(qm, host, port, log_level=log_level, before_start=before_start)

    run(main)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.pass_obj
def stats(obj: Context, as_json: bool) -> None:
    """Counts of jobs by status."""
    result = run(lambda: _with(obj.manager(), lambda qm: qm.get_stats()))
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    table = Table(title="jobs")
    for name in result.to_dict():
        table.add_column(name, justify="right", style=STATUS_COLOURS.get(name, "bold"))
    table.add_row(*(str(v) for v in result.to_dict().values()))
    out.print(table)


@cli.group()
def jobs() -> None:
    """List, show, cancel and retry jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(list(STATUS_COLOURS)), default=None)
@click.option("--type", "job_type", default=None, help="only jobs of this type")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_list(
    obj: Context, status: str | None, job_type: str | None, limit: int, as_json: bool
) -> None:
    """Jobs, newest first."""
    found = run(
        lambda: _with(
            obj.manager(), lambda qm: qm.list_jobs(status=status, type=job_type, limit=limit)
        )
    )
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in found]))
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=30)
    for column in ("type", "status", "priority", "attempts", "run at", "error"):
        table.add_column(column)
    for job in found:
        colour = STATUS_COLOURS[job.status.value]
        table.add_row(
            job.id,
            job.type,
            f"[{colour}]{job.status.value}[/]",
            str(job.priority),
            f"{job.attempts}/{job.max_attempts}",
            job.run_at.strftime("%Y-%m-%d %H:%M:%S"),
            (job.error or "")[:60],
        )
    out.print(table)


def _load(obj: Context, job_id: str) -> Job:
    job = run(lambda: _with(obj.manager(), lambda qm: qm.get_job(job_id)))
    if job is None:
        fail(f"no job with id {job_id}")
    assert job is not None
    return job


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def jobs_show(obj: Context, job_id: str, as_json: bool) -> None:
    """Everything about one job, with its attempt history."""
    job = _load(obj, job_id)
    data = job.to_dict()
    if as_json:
        click.echo(json.dumps(data))
        return
    table = Table(show_header=False, title=job.id)
    for key, value in data.items():
        if key == "history":
            continue
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown)
    out.print(table)
    for attempt in job.history:
        out.print(
            f"attempt {attempt.attempt}: {attempt.outcome.value} on {attempt.worker_id} "
            f"at {attempt.finished_at:%Y-%m-%d %H:%M:%S}",
            highlight=False,
        )
        if attempt.error:
            out.print(f"  {attempt.error}", style="red", highlight=False)


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_obj
def jobs_cancel(obj: Context, job_id: str) -> None:
    """Cancel a pending or running job."""
    job = _load(obj, job_id)
    if not run(lambda: _with(obj.manager(), lambda qm: qm.cancel_job(job_id))):
        fail(
            f"job {job_id} is {job.status.value}; only pending or processing jobs can be cancelled"
        )
    out.print(f"cancelled {job_id}")


@jobs.command("retry")
@click.argument("job_id")
@click.pass_obj
def jobs_retry(obj: Context, job_id: str) -> None:
    """Run a failed or cancelled job again."""
    job = _load(obj, job_id)
    if not run(lambda: _with(obj.manager(), lambda qm: qm.retry_job(job_id))):
        fail(f"job {job_id} is {job.status.value}; only failed or cancelled jobs can be retried")
    out.print(f"{job_id} is pending again")


@cli.command()
@click.option(
    "--older-than-days",
    type=click.FloatRange(min=0),
    envvar="QUEUE_CLEANUP_DAYS",
    show_envvar=True,
    default=None,
    help="age of completed/cancelled jobs to remove [default: 7]",
)
@click.pass_obj
def cleanup(obj: Context, older_than_days: float | None) -> None:
    """Remove old completed and cancelled jobs (failed jobs stay)."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True
    ) as progress:
        task = progress.add_task("removing finished jobs", total=None)
        removed_so_far = 0

        def on_batch(count: int) -> None:
            nonlocal removed_so_far
            removed_so_far += count
            progress.update(task, description=f"removed {removed_so_far} jobs")

        removed = run(
            lambda: _with(obj.manager(), lambda qm: qm.cleanup(older_than_days, on_batch=on_batch))
        )
    out.print(f"removed {removed} job(s)")


@cli.command()
@click.argument("job_type", required=False)
@click.option(
    "--app",
    envvar="QUEUE_APP",
    show_envvar=True,
    default=None,
    help="module:attribute of your QueueManager, to include its custom handlers",
)
@click.pass_obj
def schema(obj: Context, job_type: str | None, app: str | None) -> None:
    """JSON Schema of the payload of every job type that declares a model (or of one)."""
    from .handlers.payload import payload_schemas

    if app is not None:
        from .apploader import load_manager

        qm = load_manager(app)
    else:
        qm = QueueManager(obj.config())
    schemas = payload_schemas({t: h.source for t, h in qm.handlers.items()})
    if job_type is not None:
        if job_type not in schemas:
            fail(f"no payload model for job type {job_type!r}; known: {', '.join(schemas)}")
        click.echo(json.dumps(schemas[job_type], indent=2))
        return
    click.echo(json.dumps(schemas, indent=2))


def main() -> None:
    cli(prog_name="noormme-queue")
