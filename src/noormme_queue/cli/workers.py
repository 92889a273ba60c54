"""``workers`` (the live workers, from their heartbeats) and ``doctor`` (health checks of the
database and the workers: exit 1 with a line per problem)."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.text import Text

from ..core.workers import WorkerInfo
from ..engine.heartbeat import HEARTBEAT_PERIOD, WORKER_TTL
from .common import Shared, query, shared_options
from .output import Column, columns, echo, out

WORKER_COLUMNS = (
    Column("id", shrink=True),
    Column("host", shrink=True),
    Column("pid", right=True),
    Column("running", right=True),
    Column("queues", shrink=True),
    Column("types", shrink=True),
    Column("beat", right=True),
)


def worker_lines(workers: list[WorkerInfo], width: int, now: float) -> list[Text]:
    rows = [
        [
            (w.id, ""),
            (w.host, ""),
            (str(w.pid), ""),
            (f"{len(w.jobs)}/{w.concurrency}", "cyan" if w.jobs else ""),
            ("all" if w.queues is None else ",".join(w.queues), ""),
            (",".join(w.types) or "-", ""),
            (f"{max(0.0, now - w.heartbeat_at.timestamp()):.0f}s ago", ""),
        ]
        for w in workers
    ]
    return columns(WORKER_COLUMNS, rows, width)


@click.command(
    help=f"Live workers in every process and machine (each renews its row every "
    f"{HEARTBEAT_PERIOD:g} s and is taken for dead {WORKER_TTL:g} s after its last heartbeat): "
    "host, pid, jobs running of its concurrency, queues, job types, last heartbeat."
)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@shared_options
@click.pass_obj
def workers(obj: Shared, as_json: bool) -> None:
    found = query(obj, lambda qm: qm.list_workers())
    if as_json:
        click.echo(json.dumps([w.to_dict() for w in found]))
    elif not found:
        click.echo("no live workers")
    else:
        echo(worker_lines(found, out.width, time.time()))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the checks as JSON")
@shared_options
@click.pass_obj
def doctor(obj: Shared, as_json: bool) -> None:
    """Check the database and the workers: schema version, SQLite's journal mode,
    synchronous, busy timeout, WAL size and file system, stuck leases, job types no live
    worker handles, paused queues, clock skew. Prints one line per check; exits 1 when any
    is a problem."""
    report = query(obj, lambda qm: qm.doctor())
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        for check in report.checks:
            label = "ok" if check.ok else "problem"
            click.echo(f"{label}: {' '.join(check.message.split())}")
        count = len(report.problems)
        click.echo("healthy" if not count else f"{count} problem(s)")
    if not report.healthy:
        sys.exit(1)
