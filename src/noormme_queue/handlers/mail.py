"""The ``email`` and ``newsletter`` handlers and the payload-level functions behind them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..core.job import JSON, Job
from ..core.progress import save_progress
from ..core.signals import UnrecoverableError
from .lazy import Lazy
from .mail_message import address_of, build_message, envelope_recipients
from .mail_models import EmailPayload, NewsletterPayload
from .mail_transports import MailTransport, make_transport
from .net import HttpClientFactory, guarded_client
from .payload import parse_job_payload
from .settings import EmailSettings

logger = logging.getLogger("noormme_queue.handlers.email")

Sleep = Callable[[float], Awaitable[None]]
ProgressSink = Callable[[JSON], Awaitable[object]]


class Mailer:
    """Builds and sends messages with the transport ``EmailSettings`` names."""

    def __init__(
        self,
        settings: EmailSettings,
        *,
        client_factory: HttpClientFactory = guarded_client,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.transport: MailTransport = make_transport(settings, client_factory)
        self._sleep = sleep

    async def send_email(self, payload: EmailPayload) -> dict[str, JSON]:
        """Send one message to ``to``, ``cc`` and ``bcc``; the job result."""
        sender = payload.from_ or self.settings.sender
        message = build_message(payload, sender=sender, to=payload.to, cc=payload.cc)
        recipients = envelope_recipients(payload.to, payload.cc, payload.bcc)
        details = await self.transport.send(message, sender=sender, recipients=recipients)
        message_id = str(message["Message-ID"])
        logger.info(
            "sent email %s to %d recipient(s) via %s",
            message_id,
            len(recipients),
            self.transport.name,
        )
        return {
            "message_id": message_id,
            "recipients": recipients,
            "transport": self.transport.name,
            **details,
        }

    async def send_newsletter(
        self,
        payload: NewsletterPayload,
        *,
        progress: JSON = None,
        save: ProgressSink | None = None,
    ) -> dict[str, JSON]:
        """Send each recipient their own message, skipping those ``progress`` marks as done.

        After every message the progress is handed to ``save``, so a retry (or a
        run after a crash) sends only to the rest: at most the one message in
        flight when a worker died is sent twice.
        """
        state = NewsletterProgress.resume(progress, total_recipients(payload))
        sender = payload.from_ or self.settings.sender
        interval = 60.0 / self.settings.rate_limit if self.settings.rate_limit else 0.0
        first = True
        for display in unique_by_address(payload.to):
            address = address_of(display)
            if state.is_done(address):
                continue
            if interval and not first:
                await self._sleep(interval)  # pacing: EMAIL_RATE_LIMIT per minute
            first = False
            message = build_message(payload, sender=sender, to=[display])
            try:
                await self.transport.send(message, sender=sender, recipients=[address])
            except UnrecoverableError as exc:
                # This address will never accept it: note it and go on with the others.
                logger.warning("newsletter recipient %s refused: %s", address, exc)
                state.refused[address] = str(exc)
            else:
                state.delivered.append(address)
            if save is not None:
                await save(state.to_json())
        logger.info(
            "newsletter sent to %d of %d recipient(s) via %s",
            len(state.delivered),
            state.total,
            self.transport.name,
        )
        if not state.delivered and state.refused:
            first_reason = next(iter(state.refused.values()))
            raise UnrecoverableError(f"every newsletter recipient was refused ({first_reason})")
        return {**state.to_json(), "transport": self.transport.name}


def unique_by_address(values: list[str]) -> list[str]:
    seen: set[str] = set()
    unique: list[str] = []
    for value in values:
        key = address_of(value).lower()
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def total_recipients(payload: NewsletterPayload) -> int:
    return len(unique_by_address(payload.to))


class NewsletterProgress:
    """What a newsletter job saves with ``save_progress`` and finds again on a retry."""

    def __init__(self, total: int, delivered: list[str], refused: dict[str, str]) -> None:
        self.total = total
        self.delivered = delivered
        self.refused = refused
        self._done = {a.lower() for a in delivered} | {a.lower() for a in refused}

    @classmethod
    def resume(cls, saved: JSON, total: int) -> NewsletterProgress:
        data: Mapping[str, Any] = saved if isinstance(saved, Mapping) else {}
        delivered = [str(a) for a in data.get("delivered", []) if isinstance(a, str)]
        refused_raw = data.get("refused", {})
        refused = (
            {str(k): str(v) for k, v in refused_raw.items()}
            if isinstance(refused_raw, Mapping)
            else {}
        )
        return cls(total, delivered, refused)

    def is_done(self, address: str) -> bool:
        return address.lower() in self._done

    def to_json(self) -> dict[str, JSON]:
        return {
            "total": self.total,
            "sent": len(self.delivered),
            "failed": len(self.refused),
            "delivered": list(self.delivered),
            "refused": dict(self.refused),
        }


class EmailHandler:
    """Job type ``email``: one message, sent with the configured transport."""

    payload_model = EmailPayload

    def __init__(self, mailer: Lazy[Mailer]) -> None:
        self._mailer = mailer

    async def process(self, job: Job) -> JSON:
        return await self._mailer.get().send_email(parse_job_payload(EmailPayload, job.payload))


class NewsletterHandler:
    """Job type ``newsletter``: one message per recipient; retries skip those already sent."""

    payload_model = NewsletterPayload

    def __init__(self, mailer: Lazy[Mailer]) -> None:
        self._mailer = mailer

    async def process(self, job: Job) -> JSON:
        payload = parse_job_payload(NewsletterPayload, job.payload)
        return await self._mailer.get().send_newsletter(
            payload, progress=job.progress, save=save_progress
        )
