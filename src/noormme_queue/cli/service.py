"""``worker`` and ``serve``: the long-running commands, with their logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..core.errors import ConfigError, QueueError
from ..core.routing import format_queues, parse_queues
from .common import Shared, fail, run, shared_options, typed
from .logs import LOG_FORMATS, LOG_LEVELS, setup_logging

F = TypeVar("F", bound=Callable[..., Any])


def logging_options(command: F) -> F:
    command = click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS, case_sensitive=False),
        envvar="QUEUE_LOG_FORMAT",
        show_envvar=True,
        default="auto",
        help="auto: rich at a terminal, else text (one line per record); json: one object per line",
    )(command)
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        envvar="QUEUE_LOG_LEVEL",
        show_envvar=True,
        default="info",
    )(command)


def _check_queues(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        queues = parse_queues(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("queues: ")) from None
    return None if queues is None else format_queues(queues)


@click.command()
@click.option(
    "--queues",
    envvar="QUEUE_QUEUES",
    show_envvar=True,
    default=None,
    callback=_check_queues,
    help="the queues this worker consumes, each with an optional concurrency of its own "
    "(default,emails=10) [default: every queue]",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    envvar="QUEUE_CONCURRENCY",
    show_envvar=True,
    default=None,
    help="jobs run at once [default: 5]",
)
@logging_options
@shared_options
@click.pass_obj
def worker(
    obj: Shared, queues: str | None, concurrency: int | None, log_level: str, log_format: str
) -> None:
    """Run a worker until SIGTERM or SIGINT (twice: stop at once)."""
    setup_logging(log_level, log_format.lower())
    from ..runner import run_until_signalled

    ctx = click.get_current_context()
    fixed = tuple(
        option
        for option, name in (("--queues", "queues"), ("--concurrency", "concurrency"))
        if typed(ctx, name)
    )
    qm = obj.manager(builtins=True, fixed_by_app=fixed, concurrency=concurrency, queues=queues)

    run(lambda: run_until_signalled(qm))


@click.command()
@click.option(
    "--host",
    envvar="QUEUE_HOST",
    show_envvar=True,
    default="127.0.0.1",
    help="address to listen on; any but loopback needs QUEUE_API_TOKEN",
)
@click.option(
    "--port",
    envvar="QUEUE_PORT",
    show_envvar=True,
    type=click.IntRange(0, 65535),
    default=8000,
    help="0: any free port (the log names it)",
)
@click.option(
    "--access-log/--no-access-log",
    envvar="QUEUE_ACCESS_LOG",
    show_envvar=True,
    default=True,
    help="log one line per HTTP request",
)
@logging_options
@shared_options
@click.pass_obj
def serve(
    obj: Shared, host: str, port: int, access_log: bool, log_level: str, log_format: str
) -> None:
    """Run the queue service: worker, REST API (/api/queue) and dashboard (/queue) in one
    process, until SIGTERM or SIGINT. Without --app, a demo app runs. Needs the api extra.
    The API token is QUEUE_API_TOKEN."""
    setup_logging(log_level, log_format.lower())
    try:
        from ..api.server import serve_forever
    except ImportError as exc:
        fail(f"serve needs FastAPI and uvicorn: pip install 'noormme-queue[api]' ({exc})")

    before_start = None
    if obj.app is None:
        from ..demo import create_demo_manager, enqueue_demo_jobs

        try:
            qm = create_demo_manager(obj.config())
        except QueueError as exc:
            fail(str(exc))
        before_start = enqueue_demo_jobs
    else:
        qm = obj.manager()
    run(
        lambda: serve_forever(
            qm,
            host,
            port,
            log_level=log_level.lower(),
            access_log=access_log,
            before_start=before_start,
        )
    )
