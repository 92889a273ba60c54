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
        """Send each recipient their own message, in payload order, after those ``progress``
        counts as done.

        After every message the progress (a cursor, not a list: see
        :class:`NewsletterProgress`) is handed to ``save``, so a retry (or a run after a
        crash) sends only to the rest: at most the one message in flight when a worker died
        is sent twice.
        """
        recipients = unique_by_address(payload.to)
        state = NewsletterProgress.resume(progress, recipients)
        sender = payload.from_ or self.settings.sender
        interval = 60.0 / self.settings.rate_limit if self.settings.rate_limit else 0.0
        first = True
        for display in recipients[state.done :]:
            address = address_of(display)
            if interval and not first:
                await self._sleep(interval)  # pacing: EMAIL_RATE_LIMIT per minute
            first = False
            message = build_message(payload, sender=sender, to=[display])
            try:
                await self.transport.send(message, sender=sender, recipients=[address])
            except UnrecoverableError as exc:
                # This address will never accept it: note it and go on with the others.
                logger.warning("newsletter recipient %s refused: %s", address, exc)
                state.refuse(address, str(exc))
            else:
                state.sent += 1
            state.done += 1
            if save is not None:
                await save(state.to_json())
        logger.info(
            "newsletter sent to %d of %d recipient(s) via %s",
            state.sent,
            state.total,
            self.transport.name,
        )
        if not state.sent and state.failed:
            first_reason = next(iter(state.refused.values()), "refused")
            raise UnrecoverableError(f"every newsletter recipient was refused ({first_reason})")
        return {**state.to_json(), "transport": self.transport.name}


def unique_by_address(values: list[str]) -> list[str]:
    """``values`` without repeated addresses (compared case-insensitively), in order."""
    seen: set[str] = set()
    unique: list[str] = []
    for value in values:
        key = address_of(value).lower()
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


REFUSED_KEPT = 100
"""Refused addresses kept with their reasons in the progress; ``failed`` counts them all."""


class NewsletterProgress:
    """What a newsletter job saves with ``save_progress`` and finds again on a retry.

    Recipients are sent in payload order (each distinct address once), so how far a job
    got is one number, ``done``: the first ``done`` recipients were sent or refused for
    good. With the counts and the first :data:`REFUSED_KEPT` refusals, every save is the
    same small size however long the list, and a retry starts at recipient ``done``.
    """

    def __init__(
        self, total: int, done: int = 0, sent: int = 0, refused: dict[str, str] | None = None
    ) -> None:
        self.total = total
        self.done = done
        self.sent = sent
        self.refused: dict[str, str] = dict(refused or {})

    @property
    def failed(self) -> int:
        """Recipients refused for good (all of them, not only those kept in ``refused``)."""
        return self.done - self.sent

    def refuse(self, address: str, reason: str) -> None:
        if len(self.refused) < REFUSED_KEPT:
            self.refused[address] = reason

    @classmethod
    def resume(cls, saved: JSON, recipients: list[str]) -> NewsletterProgress:
        total = len(recipients)
        data: Mapping[str, Any] = saved if isinstance(saved, Mapping) else {}
        refused_raw = data.get("refused", {})
        refused = (
            {str(k): str(v) for k, v in refused_raw.items()}
            if isinstance(refused_raw, Mapping)
            else {}
        )
        done, sent = _int(data.get("done")), _int(data.get("sent"))
        if "done" not in data and isinstance(data.get("delivered"), list):
            done, sent = _legacy_cursor(data["delivered"], refused, recipients)
        done = min(max(done, 0), total)
        return cls(total, done, min(max(sent, 0), done), refused)

    def to_json(self) -> dict[str, JSON]:
        return {
            "total": self.total,
            "done": self.done,
            "sent": self.sent,
            "failed": self.failed,
            "refused": dict(self.refused),
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _legacy_cursor(
    delivered: list[Any], refused: Mapping[str, str], recipients: list[str]
) -> tuple[int, int]:
    """``(done, sent)`` from progress saved as address lists (before the cursor format).

    Those runs went through the recipients in the same order, so the addresses they list
    are a prefix of the recipients: the cursor is where that prefix ends.
    """
    sent_before = {str(a).lower() for a in delivered}
    refused_before = {a.lower() for a in refused}
    done = sent = 0
    for display in recipients:
        address = address_of(display).lower()
        if address in sent_before:
            sent += 1
        elif address not in refused_before:
            break
        done += 1
    return done, sent


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
