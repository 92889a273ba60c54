"""``python manage.py runworker``: run this project's queue worker until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.core.management.base import BaseCommand

from noormme_queue.runner import run_until_signalled
from shop.queue import get_queue


class Command(BaseCommand):
    help = "Run the noormme-queue worker (first SIGTERM/SIGINT: graceful stop; second: at once)."

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        report = asyncio.run(run_until_signalled(get_queue()))
        self.stdout.write(f"worker stopped; {report.released} job(s) put back to pending")
