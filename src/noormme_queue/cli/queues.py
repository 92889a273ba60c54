"""``noormme-queue queues``: list, pause and resume named queues (stored: every process obeys)."""

from __future__ import annotations

import json

import click

from ..core.job import QueueInfo
from ..core.routing import TypeDefinition
from ..manager import QueueManager
from .common import Shared, query, shared_options
from .output import echo, out, queue_lines, type_definition_json


@click.group()
@shared_options
def queues() -> None:
    """List, pause and resume queues (stored in the database: every worker obeys)."""


async def _listing(qm: QueueManager) -> tuple[list[QueueInfo], list[TypeDefinition]]:
    return await qm.list_queues(), await qm.list_types()


@queues.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@shared_options
@click.pass_obj
def queues_list(obj: Shared, as_json: bool) -> None:
    """Every queue: running or paused, its jobs by status, and its job types with the limits
    the workers stored (concurrency, rate; all workers together)."""
    infos, definitions = query(obj, _listing)
    by_queue: dict[str, list[TypeDefinition]] = {}
    for definition in sorted(definitions, key=lambda d: d.type):
        by_queue.setdefault(definition.queue, []).append(definition)
    found = {info.name: info for info in infos}
    for name in by_queue.keys() - found.keys():  # defined meanwhile: show it all the same
        found[name] = QueueInfo(name)
    listed = [(found[name], by_queue.get(name, [])) for name in sorted(found)]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {**info.to_dict(), "types": [type_definition_json(d) for d in types]}
                    for info, types in listed
                ]
            )
        )
    elif not listed:
        click.echo("no queues")
    else:
        echo(queue_lines(listed, out.width))


@queues.command("pause")
@click.argument("name")
@shared_options
@click.pass_obj
def queues_pause(obj: Shared, name: str) -> None:
    """Stop every worker from starting jobs of queue NAME (any valid name, used yet or not);
    its jobs stay pending and spend no attempt."""
    changed = query(obj, lambda qm: qm.pause_queue(name))
    click.echo(f"paused queue {name}" if changed else f"queue {name} was paused already")


@queues.command("resume")
@click.argument("name")
@shared_options
@click.pass_obj
def queues_resume(obj: Shared, name: str) -> None:
    """Let workers take jobs of queue NAME again."""
    changed = query(obj, lambda qm: qm.resume_queue(name))
    click.echo(f"resumed queue {name}" if changed else f"queue {name} was not paused")
