"""``python manage.py noormme_worker [--queues default,emails=10] [--backend default]``: run
the queue's worker for Django's tasks until SIGTERM or SIGINT (the first stops gracefully,
a second at once). It imports every installed app's ``tasks`` module first, so each task is
registered under its job type."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from noormme_queue.core.errors import QueueError
from noormme_queue.core.routing import parse_queues
from noormme_queue.runner import run_until_signalled


class Command(BaseCommand):
    help = (
        "Run the noormme-queue worker for Django's tasks (first SIGTERM/SIGINT: graceful "
        "stop; second: at once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues",
            help="the queues to consume, each with an optional concurrency: "
            "'default,emails=10' (default: QUEUE_QUEUES, else every queue)",
        )
        parser.add_argument(
            "--backend", default="default", help="the TASKS alias to run (default: default)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django.utils.module_loading import autodiscover_modules

        from noormme_queue.contrib.django.backend import NoormmeTaskBackend
        from noormme_queue.contrib.django.compat import task_backends

        queues: str | None = options["queues"]
        if queues is not None:
            try:
                parse_queues(queues)
            except QueueError as exc:
                raise CommandError(f"--queues: {exc}") from None
            os.environ["QUEUE_QUEUES"] = queues  # read when the manager is built, below
        try:
            backend = task_backends[options["backend"]]
        except Exception as exc:
            raise CommandError(str(exc)) from None
        if not isinstance(backend, NoormmeTaskBackend):
            raise CommandError(
                f"TASKS[{options['backend']!r}] is {type(backend).__name__}, not "
                "noormme_queue.contrib.django.NoormmeTaskBackend"
            )
        autodiscover_modules("tasks")
        manager = backend.manager
        if queues is not None and manager.config.queues != queues:
            raise CommandError(
                "the queue manager was built before --queues could apply; set QUEUE_QUEUES "
                "instead, or in the config of your QUEUE_MANAGER"
            )
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        self.stdout.write(
            f"noormme-queue worker for TASKS[{backend.alias!r}]: {len(backend.tasks)} "
            f"task(s), queues {queues or os.environ.get('QUEUE_QUEUES') or 'all'}"
        )
        report = asyncio.run(run_until_signalled(manager))
        self.stdout.write(f"worker stopped; {report.released} job(s) put back to pending")
