"""The ``noormme-queue`` command line (also ``python -m noormme_queue``).

Every option can also be set by the environment variable shown in ``--help``;
``--database-url`` and ``--app`` work before or after the command name. Commands that
read, change or delete (``stats``, ``jobs``, ``queues``, ``schedules``, ``cleanup``,
``workers``, ``doctor``) never create a database. Failures exit non-zero with a one-line reason.
"""

from __future__ import annotations

import click

from .admin import cleanup, schema, stats
from .common import Shared, shared_options
from .jobs import jobs
from .queues import queues
from .schedules import schedules
from .service import serve, worker
from .workers import doctor, workers

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@shared_options
@click.version_option(package_name="noormme-queue")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """noormme-queue: background jobs on one SQLite file. Settings come from QUEUE_*
    variables; options override them."""
    ctx.ensure_object(Shared)


for command in (worker, serve, stats, jobs, queues, schedules, cleanup, schema, workers, doctor):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="noormme-queue")
