"""The email handler against a real SMTP server, the file outbox and a real HTTP API."""

from __future__ import annotations

import base64
import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from noormme_queue.core.config import QueueConfig
from noormme_queue.core.signals import RetryLater, UnrecoverableError
from noormme_queue.handlers import (
    EmailPayload,
    EmailSettings,
    SmtpServer,
    build_builtin_handlers,
    build_builtin_processors,
)
from noormme_queue.handlers.mail_models import Attachment

from .conftest import HttpServer, Reply, make_job
from .conftest import SmtpServer as LocalSmtp

PDF_BYTES = bytes(range(256)) * 40  # every byte value: any mangling shows
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 500


def smtp_settings(server: LocalSmtp, **kwargs: object) -> EmailSettings:
    return EmailSettings(
        transport="smtp",
        smtp=SmtpServer.from_url(server.url),
        sender="Shop <shop@example.com>",
        **kwargs,  # type: ignore[arg-type]
    )


def email_handler(settings: EmailSettings) -> Any:
    return build_builtin_handlers(QueueConfig(), email=settings)["email"]


async def test_smtp_message_parses_back_to_the_same_content(smtp_server: LocalSmtp) -> None:
    handler = build_builtin_handlers(QueueConfig(), email=smtp_settings(smtp_server))["email"]
    payload = {
        "to": ["Ann <ann@example.com>", "bob@example.com"],
        "cc": "carol@example.com",
        "bcc": ["dave@example.com"],
        "subject": "Order Confirmation ✓",
        "html": "<h1>Thank you for your order!</h1>",
        "text": "Thank you for your order!",
        "replyTo": "help@example.com",
        "headers": {"X-Order": "42"},
        "attachments": [
            {
                "filename": "receipt.pdf",
                "content": base64.b64encode(PDF_BYTES).decode(),
                "contentType": "application/pdf",
            },
            {"filename": "logo.png", "content": base64.b64encode(PNG_BYTES).decode()},
        ],
    }
    result = await handler.process(make_job("email", payload))

    [received] = smtp_server.recorder.received
    assert received.sender == "shop@example.com"
    assert sorted(received.recipients) == sorted(
        ["ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    )
    message = received.message()
    assert message["Subject"] == "Order Confirmation ✓"
    assert message["To"] == "Ann <ann@example.com>, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None  # bcc only in the envelope
    assert message["Reply-To"] == "help@example.com"
    assert message["X-Order"] == "42"
    assert message["Message-ID"] == result["message_id"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and text.get_content().strip() == "Thank you for your order!"
    assert html is not None and html.get_content().strip() == payload["html"]
    attachments = {a.get_filename(): a for a in message.iter_attachments()}
    assert attachments["receipt.pdf"].get_content_type() == "application/pdf"
    assert attachments["receipt.pdf"].get_payload(decode=True) == PDF_BYTES
    assert attachments["logo.png"].get_content_type() == "image/png"  # guessed from the name
    assert attachments["logo.png"].get_payload(decode=True) == PNG_BYTES
    assert result["transport"] == "smtp"
    assert sorted(result["recipients"]) == sorted(received.recipients)


async def test_attachment_bytes_given_in_python_arrive_unchanged(smtp_server: LocalSmtp) -> None:
    processors = build_builtin_processors(QueueConfig(), email=smtp_settings(smtp_server))
    payload = EmailPayload(
        to=["ann@example.com"],
        subject="bytes",
        text="see attached",
        attachments=[Attachment(filename="data.bin", content=PDF_BYTES)],
    )
    await processors["email-sending"](payload)
    [received] = smtp_server.recorder.received
    [attachment] = list(received.message().iter_attachments())
    assert attachment.get_payload(decode=True) == PDF_BYTES
    assert attachment.get_content_type() == "application/octet-stream"


async def test_html_only_message_has_an_html_body(smtp_server: LocalSmtp) -> None:
    handler = email_handler(smtp_settings(smtp_server))
    await handler.process(
        make_job("email", {"to": "a@example.com", "subject": "Hi", "html": "<p>x</p>"})
    )
    message = smtp_server.recorder.received[0].message()
    assert message.get_content_type() == "text/html"
    assert message.get_content().strip() == "<p>x</p>"


async def test_smtp_login_secret_stays_out_of_result_and_logs(
    smtp_server: LocalSmtp, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"smtp://mailer:s3cret-pass@127.0.0.1:{smtp_server.port}"
    settings = EmailSettings(transport="smtp", smtp=SmtpServer.from_url(url))
    caplog.set_level(logging.DEBUG)
    result = await email_handler(settings).process(
        make_job("email", {"to": "a@example.com", "subject": "Hi", "text": "x"})
    )
    assert smtp_server.recorder.logins == ["mailer"]  # it really authenticated
    assert len(smtp_server.recorder.received) == 1
    assert "s3cret-pass" not in repr(result)
    assert "s3cret-pass" not in caplog.text
    assert "s3cret-pass" not in repr(settings)


async def test_permanent_smtp_refusal_is_unrecoverable(smtp_server: LocalSmtp) -> None:
    smtp_server.recorder.refuse["nobody@example.com"] = "550 no such user"
    with pytest.raises(UnrecoverableError, match="550"):
        await email_handler(smtp_settings(smtp_server)).process(
            make_job("email", {"to": "nobody@example.com", "subject": "Hi"})
        )


async def test_temporary_smtp_refusal_is_retried(smtp_server: LocalSmtp) -> None:
    smtp_server.recorder.refuse["busy@example.com"] = "451 try again later"
    with pytest.raises(Exception, match="451") as caught:
        await email_handler(smtp_settings(smtp_server)).process(
            make_job("email", {"to": "busy@example.com", "subject": "Hi"})
        )
    assert not isinstance(caught.value, UnrecoverableError)


async def test_file_transport_writes_a_complete_eml(tmp_path: Path) -> None:
    settings = EmailSettings(outbox_dir=tmp_path / "outbox")
    result = await email_handler(settings).process(
        make_job("email", {"to": "a@example.com", "subject": "Welcome!", "html": "<h1>Hi</h1>"})
    )
    path = Path(result["path"])
    assert path.parent == tmp_path / "outbox" and path.suffix == ".eml"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Welcome!"
    assert message["From"] == "noreply@example.com"
    assert result["transport"] == "file"


async def test_api_transport_posts_json_with_bearer_key(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.routes["/send"] = Reply(202, b'{"id": "prov-123"}')
    settings = EmailSettings(
        transport="api", api_url=http_server.url("/send"), api_key="key-very-secret"
    )
    caplog.set_level(logging.DEBUG)
    payload = {
        "to": "a@example.com",
        "bcc": "b@example.com",
        "subject": "Hello",
        "text": "plain",
        "html": "<b>rich</b>",
        "attachments": [{"filename": "r.pdf", "content": base64.b64encode(PDF_BYTES).decode()}],
    }
    result = await email_handler(settings).process(make_job("email", payload))

    [request] = http_server.hits("/send")
    assert request.method == "POST"
    assert request.headers["authorization"] == "Bearer key-very-secret"
    document = request.json()
    assert document["to"] == ["a@example.com"]
    assert document["envelope_to"] == ["a@example.com", "b@example.com"]
    assert document["subject"] == "Hello"
    assert document["text"].strip() == "plain" and document["html"].strip() == "<b>rich</b>"
    assert base64.b64decode(document["attachments"][0]["content"]) == PDF_BYTES
    raw = message_from_bytes(base64.b64decode(document["raw"]), policy=policy.default)
    assert raw["Subject"] == "Hello"
    assert result == {
        "message_id": document["message_id"],
        "recipients": ["a@example.com", "b@example.com"],
        "transport": "api",
        "status": 202,
        "provider_id": "prov-123",
    }
    assert "key-very-secret" not in caplog.text and "key-very-secret" not in repr(settings)


async def test_api_transport_throttled_is_retried_after_the_given_delay(
    http_server: HttpServer,
) -> None:
    http_server.routes["/send"] = Reply(429, b"slow down", {"Retry-After": "12"})
    settings = EmailSettings(transport="api", api_url=http_server.url("/send"), api_key="k")
    with pytest.raises(RetryLater) as caught:
        await email_handler(settings).process(
            make_job("email", {"to": "a@example.com", "subject": "x"})
        )
    assert caught.value.delay == 12


async def test_api_transport_bad_request_is_unrecoverable(http_server: HttpServer) -> None:
    http_server.routes["/send"] = Reply(400, b'{"error": "bad from"}')
    settings = EmailSettings(transport="api", api_url=http_server.url("/send"))
    with pytest.raises(UnrecoverableError, match="400"):
        await email_handler(settings).process(
            make_job("email", {"to": "a@example.com", "subject": "x"})
        )
