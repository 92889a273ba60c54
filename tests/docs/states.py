"""States a documentation shell block shows, made for real in the page's database:
``python -m tests.docs.states NAME`` with the page's environment (QUEUE_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any

from aiosmtpd.controller import Controller

from noormme_queue import QueueConfig, QueueManager

from .support import drain


class RefuseEveryone:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, *args: Any) -> str:
        return "550 5.1.1 no such user"


async def refused_email_then_report() -> None:
    """cli.md's listing: an e-mail that a real SMTP server refused (failed for good), then a
    report due in an hour."""
    with socket.socket() as probe:  # aiosmtpd needs the port before it listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(RefuseEveryone(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        os.environ |= {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        qm = QueueManager(QueueConfig.from_env())
        async with qm:
            email = {"to": "old@example.com", "subject": "Hi", "text": "Hello"}
            await qm.add_job("email", email, max_attempts=2)
            await drain(qm)
            await qm.add_job("report", {"month": "2026-11"}, delay=3600)
    finally:
        controller.stop()


STATES = {"refused-email": refused_email_then_report}

if __name__ == "__main__":
    asyncio.run(STATES[sys.argv[1]]())
