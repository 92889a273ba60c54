"""Where a built message goes: the ``file``, ``smtp`` and ``api`` transports.

Each transport sends one message to its envelope recipients and returns
JSON-ready details for the job result. None of them puts a secret (SMTP
password, API key) into a result, a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from pathlib import Path
from typing import Protocol

import aiosmtplib

from ..core.job import JSON
from ..core.signals import UnrecoverableError
from ..core.threads import run_sync
from .mail_message import address_of
from .net import HttpClientFactory, raise_for_delivery_status, read_limited
from .settings import EmailSettings, SmtpServer

logger = logging.getLogger("noormme_queue.handlers.email")

MAX_API_RESPONSE_BYTES = 1024 * 1024


class TemporaryMailError(Exception):
    """The mail server deferred the message (a 4xx reply): the job's backoff retries it."""


class MailTransport(Protocol):
    name: str

    async def send(
        self, message: EmailMessage, *, sender: str, recipients: list[str]
    ) -> dict[str, JSON]:
        """Deliver ``message``; raise on failure (``UnrecoverableError`` if a retry can't help)."""
        ...


class FileTransport:
    """Writes each message as an ``.eml`` file: the default, so demos need no mail server."""

    name = "file"

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    async def send(
        self, message: EmailMessage, *, sender: str, recipients: list[str]
    ) -> dict[str, JSON]:
        data = message.as_bytes()
        path = await run_sync(self._write, data, str(message["Message-ID"]))
        return {"path": str(path)}

    def _write(self, data: bytes, message_id: str) -> Path:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        target = self.outbox_dir / f"{digest}.eml"
        # Write then rename, so a reader of the outbox never sees half a message.
        fd, temp = tempfile.mkstemp(dir=self.outbox_dir, prefix=".", suffix=".eml.part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


class SmtpTransport:
    """Sends over SMTP with aiosmtplib: implicit TLS for ``smtps://``, STARTTLS if offered."""

    name = "smtp"

    def __init__(self, server: SmtpServer, *, timeout: float = 30.0) -> None:
        self.server = server
        self.timeout = timeout

    async def send(
        self, message: EmailMessage, *, sender: str, recipients: list[str]
    ) -> dict[str, JSON]:
        server = self.server
        try:
            refused, response = await aiosmtplib.send(
                message,
                sender=address_of(sender),
                recipients=recipients,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            detail = "every recipient was refused: " + "; ".join(
                f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients
            )
            if all(r.code >= 500 for r in exc.recipients):
                raise UnrecoverableError(detail) from None
            raise TemporaryMailError(detail) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is the server's final answer; 4xx (greylisting, full mailbox) may pass later.
            detail = f"SMTP server answered {exc.code} {exc.message}"
            if exc.code >= 500:
                raise UnrecoverableError(detail) from None
            raise TemporaryMailError(detail) from None
        return {
            "response": response,
            "refused": {address: f"{r.code} {r.message}" for address, r in refused.items()},
        }


class ApiTransport:
    """POSTs the message as JSON to ``EMAIL_API_URL`` with ``EMAIL_API_KEY`` as bearer token."""

    name = "api"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        client_factory: HttpClientFactory,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._api_key = api_key
        self._client_factory = client_factory
        self.timeout = timeout

    async def send(
        self, message: EmailMessage, *, sender: str, recipients: list[str]
    ) -> dict[str, JSON]:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # EMAIL_API_URL is the operator's own setting, not job input: no SSRF guard.
        async with self._client_factory(allow_private=True, timeout=self.timeout) as client:
            request = client.build_request(
                "POST", self.url, json=api_body(message, sender, recipients), headers=headers
            )
            response = await client.send(request, stream=True)
            try:
                body = await read_limited(response, MAX_API_RESPONSE_BYTES)
            finally:
                await response.aclose()
        raise_for_delivery_status(response, body, "email API")
        return {"status": response.status_code, "provider_id": _provider_id(body)}


def api_body(message: EmailMessage, sender: str, recipients: list[str]) -> dict[str, JSON]:
    """The JSON document the ``api`` transport posts (documented in docs/handlers/email.md)."""
    text = html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content()
    attachments = [
        {
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "content": base64.b64encode(_decoded(part)).decode("ascii"),
        }
        for part in message.iter_attachments()
    ]
    return {
        "message_id": str(message["Message-ID"]),
        "from": sender,
        "to": recipients_of(message, "To"),
        "cc": recipients_of(message, "Cc"),
        "envelope_to": recipients,
        "reply_to": str(message["Reply-To"]) if message["Reply-To"] else None,
        "subject": str(message["Subject"]),
        "text": text,
        "html": html,
        "headers": custom_headers(message),
        "attachments": attachments,
        "raw": base64.b64encode(message.as_bytes()).decode("ascii"),
    }


def _decoded(part: EmailMessage) -> bytes:
    raw = part.get_payload(decode=True)  # bytes exactly as attached, whatever the type
    return raw if isinstance(raw, bytes) else b""


def recipients_of(message: EmailMessage, header: str) -> list[str]:
    value = message[header]
    return [] if value is None else [formataddr(pair) for pair in getaddresses([str(value)])]


_STANDARD = {"from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version"}


def custom_headers(message: EmailMessage) -> dict[str, str]:
    return {
        name: str(value)
        for name, value in message.items()
        if name.lower() not in _STANDARD and not name.lower().startswith("content-")
    }


def _provider_id(body: bytes) -> JSON:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("id") if isinstance(document, dict) else None


def make_transport(settings: EmailSettings, client_factory: HttpClientFactory) -> MailTransport:
    if settings.transport == "smtp":
        assert settings.smtp is not None  # EmailSettings validates this
        return SmtpTransport(settings.smtp, timeout=settings.timeout)
    if settings.transport == "api":
        assert settings.api_url is not None
        return ApiTransport(
            settings.api_url,
            settings.api_key,
            client_factory=client_factory,
            timeout=settings.timeout,
        )
    return FileTransport(settings.outbox_dir)
