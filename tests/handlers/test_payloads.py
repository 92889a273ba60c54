"""Payload models, validation errors naming the field, JSON Schema, settings and wiring."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

import noormme_queue.handlers as handlers_pkg
from noormme_queue.core.config import QueueConfig
from noormme_queue.core.errors import ConfigError, InvalidPayload
from noormme_queue.engine.binding import BoundHandler
from noormme_queue.handlers import (
    BUILTIN_JOB_TYPES,
    BUILTIN_PROCESSOR_QUEUES,
    Attachment,
    EmailPayload,
    EmailSettings,
    ImageSettings,
    NewsletterPayload,
    WebhookPayload,
    build_builtin_handlers,
    build_builtin_processors,
    payload_schemas,
    validate_payload,
)

from .conftest import HttpServer, Reply


def test_spec_email_payload_is_normalised_to_snake_case() -> None:
    data = validate_payload(
        EmailPayload,
        {
            "to": "user@example.com",
            "subject": "Order Confirmation",
            "html": "<h1>Thank you for your order!</h1>",
            "replyTo": "help@example.com",
            "from": "Shop <shop@example.com>",
            "attachments": [
                {"filename": "receipt.pdf", "content": "JVBERi0=", "contentType": "application/pdf"}
            ],
        },
    )
    assert data["to"] == ["user@example.com"]
    assert data["reply_to"] == ["help@example.com"]
    assert data["from"] == "Shop <shop@example.com>"
    assert data["attachments"][0]["content_type"] == "application/pdf"
    assert validate_payload(EmailPayload, data) == data  # stored form validates to itself


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "x"}, "payload.to"),
        ({"to": [], "subject": "x"}, "payload.to"),
        ({"to": "not-an-address"}, "payload.to.0"),
        ({"to": "a@b.c", "subjct": "typo"}, "payload.subjct"),
        ({"to": "a@b.c", "subject": "x\r\nBcc: evil@example.com"}, "payload.subject"),
        ({"to": "a@b.c", "headers": {"Content-Type": "text/evil"}}, "payload.headers"),
        ({"to": "a@b.c", "headers": {"X-Ok": "a\nb"}}, "payload.headers.X-Ok"),
        (
            {"to": "a@b.c", "attachments": [{"filename": "f", "content": "***"}]},
            "payload.attachments.0.content",
        ),
        ({"to": "a@b.c", "attachments": [{"content": "AA=="}]}, "payload.attachments.0.filename"),
    ],
)
def test_invalid_email_payload_names_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(EmailPayload, payload)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_non_object_payload_is_refused() -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(EmailPayload, ["a@b.c"])
    assert caught.value.field == "payload"


def test_model_instance_dumps_to_json_and_back_with_identical_bytes() -> None:
    raw = bytes(range(256))
    model = EmailPayload(
        to=["a@example.com"],
        subject="s",
        from_="me@example.com",
        attachments=[Attachment(filename="f.bin", content=raw)],
    )
    dumped = model.model_dump(mode="json")  # what the manager stores
    assert dumped["from"] == "me@example.com"
    assert dumped["attachments"][0]["content"] == base64.b64encode(raw).decode()
    assert EmailPayload.model_validate(dumped).attachments[0].content == raw
    assert validate_payload(EmailPayload, model) == dumped


def test_newsletter_has_no_cc() -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(NewsletterPayload, {"to": ["a@b.c"], "cc": "x@y.z"})
    assert caught.value.field == "payload.cc"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://example.com"}, "payload.url"),
        ({"url": "/relative"}, "payload.url"),
        ({"url": "https://a.example", "method": "BREW"}, "payload.method"),
        ({"url": "https://a.example", "timeout": 0}, "payload.timeout"),
        ({"url": "https://a.example", "retryPolicy": {"maxRetries": -1}}, "payload.retryPolicy"),
        ({"url": "https://a.example", "retry_policy": {"bogus": 1}}, "payload.retry_policy"),
        ({"url": "https://a.example", "secret": "whsec_!!!"}, "payload.secret"),
        ({"url": "https://a.example", "headers": {"X": "a\r\nb"}}, "payload.headers.X"),
    ],
)
def test_invalid_webhook_payload_names_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(WebhookPayload, payload)
    assert caught.value.field == field


def test_schemas_for_every_builtin_and_custom_models() -> None:
    built = build_builtin_handlers(QueueConfig())

    class Custom:
        payload_model = WebhookPayload

        def process(self, job: object) -> None: ...

    def plain(job: object) -> None: ...

    registered = {**built, "custom": Custom(), "plain": plain, "bound": BoundHandler("b", Custom())}
    schemas = payload_schemas(registered)
    assert sorted(schemas) == sorted([*BUILTIN_JOB_TYPES, "custom", "bound"])
    email = schemas["email"]
    assert email["additionalProperties"] is False
    assert {"to", "subject", "html", "text", "from", "reply_to", "attachments"} <= set(
        email["properties"]
    )
    assert "to" in email["required"]
    assert "image_path" in schemas["image"]["properties"]


def test_builtins_cover_the_documented_names() -> None:
    assert sorted(build_builtin_handlers(QueueConfig())) == sorted(BUILTIN_JOB_TYPES)
    assert sorted(build_builtin_processors(QueueConfig())) == sorted(BUILTIN_PROCESSOR_QUEUES)


def test_building_handlers_reads_no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "carrier-pigeon")
    handlers = build_builtin_handlers(QueueConfig())  # lazy: a bad EMAIL_* var is not fatal here
    assert "email" in handlers


async def test_bad_email_env_is_reported_when_mail_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_TRANSPORT", "carrier-pigeon")
    send = build_builtin_processors(QueueConfig())["email-sending"]
    with pytest.raises(ConfigError, match="EMAIL_TRANSPORT"):
        await send({"to": "a@example.com"})


# -- settings -----------------------------------------------------------------------------


def test_email_settings_defaults() -> None:
    settings = EmailSettings.from_env({})
    assert settings.sender == "noreply@example.com"
    assert settings.transport == "file"
    assert settings.outbox_dir == Path("./data/outbox")
    assert settings.rate_limit is None


def test_email_settings_from_env_parse_smtp_url() -> None:
    settings = EmailSettings.from_env(
        {
            "EMAIL_TRANSPORT": "SMTP",
            "EMAIL_SMTP_URL": "smtps://user%40corp:p%3Ass@mail.example.com",
            "EMAIL_RATE_LIMIT": "60",
            "EMAIL_FROM": "team@example.com",
        }
    )
    assert settings.transport == "smtp" and settings.rate_limit == 60
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.use_tls) == (
        "mail.example.com",
        465,
        True,
    )
    assert (settings.smtp.username, settings.smtp.password) == ("user@corp", "p:ss")
    assert "p:ss" not in repr(settings)
    plain = EmailSettings.from_env({"EMAIL_SMTP_URL": "smtp://mail.example.com"})
    assert plain.smtp is not None and (plain.smtp.port, plain.smtp.use_tls) == (587, False)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"EMAIL_TRANSPORT": "fax"}, "EMAIL_TRANSPORT"),
        ({"EMAIL_TRANSPORT": "smtp"}, "EMAIL_SMTP_URL"),
        ({"EMAIL_TRANSPORT": "api"}, "EMAIL_API_URL"),
        ({"EMAIL_SMTP_URL": "http://x"}, "EMAIL_SMTP_URL"),
        ({"EMAIL_SMTP_URL": "smtp://x:notaport"}, "EMAIL_SMTP_URL"),
        ({"EMAIL_RATE_LIMIT": "lots"}, "EMAIL_RATE_LIMIT"),
        ({"EMAIL_RATE_LIMIT": "0"}, "EMAIL_RATE_LIMIT"),
        ({"EMAIL_FROM": "nobody"}, "EMAIL_FROM"),
        ({"EMAIL_TRANSPORT": "api", "EMAIL_API_URL": "ftp://x"}, "EMAIL_API_URL"),
    ],
)
def test_bad_email_env_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        EmailSettings.from_env(env)


def test_api_key_not_in_repr() -> None:
    settings = EmailSettings.from_env(
        {
            "EMAIL_TRANSPORT": "api",
            "EMAIL_API_URL": "https://mail.example",
            "EMAIL_API_KEY": "k-123",
        }
    )
    assert settings.api_key == "k-123" and "k-123" not in repr(settings)


def test_image_settings_from_env() -> None:
    defaults = ImageSettings.from_env({})
    assert defaults.output_dir == Path("./uploads/processed")
    assert defaults.temp_dir == Path("./temp")
    assert defaults.input_dirs == (Path("."),)
    settings = ImageSettings.from_env(
        {"IMAGE_INPUT_DIRS": f"/a{os.pathsep}/b, /c", "IMAGE_MAX_PIXELS": "1000"}
    )
    assert settings.input_dirs == (Path("/a"), Path("/b"), Path("/c"))
    assert settings.max_pixels == 1000
    with pytest.raises(ConfigError, match="IMAGE_MAX_PIXELS"):
        ImageSettings.from_env({"IMAGE_MAX_PIXELS": "big"})


# -- api-calls ----------------------------------------------------------------------------


async def test_api_calls_processor_returns_status_headers_and_json(
    http_server: HttpServer,
) -> None:
    http_server.routes["/data"] = Reply(
        200, b'{"items": [1, 2]}', {"Content-Type": "application/json", "X-Total": "2"}
    )
    call = build_builtin_processors(QueueConfig(webhook_allow_private=True))["api-calls"]
    result = await call({"url": http_server.url("/data"), "options": {"method": "GET"}})
    assert result["status"] == 200 and result["ok"] is True
    assert result["body"] == {"items": [1, 2]}
    assert result["headers"]["x-total"] == "2"


async def test_api_calls_returns_errors_as_results_and_sends_bodies(
    http_server: HttpServer,
) -> None:
    http_server.routes["/missing"] = Reply(404, b"no such thing", {"Content-Type": "text/plain"})
    call = build_builtin_processors(QueueConfig(webhook_allow_private=True))["api-calls"]
    result = await call(
        {"url": http_server.url("/missing"), "options": {"method": "post", "body": {"q": 1}}}
    )
    assert (result["status"], result["ok"], result["body"]) == (404, False, "no such thing")
    assert http_server.hits("/missing")[0].json() == {"q": 1}


async def test_api_calls_guarded_like_webhooks(http_server: HttpServer) -> None:
    call = build_builtin_processors(QueueConfig())["api-calls"]
    with pytest.raises(handlers_pkg.DestinationNotAllowed):
        await call({"url": http_server.url("/data", host="localhost")})
    assert http_server.requests == []


async def test_webhook_delivery_queue_processor(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(202, b"queued", {})
    deliver = build_builtin_processors(QueueConfig(webhook_allow_private=True))["webhook-delivery"]
    result = await deliver(WebhookPayload(url=http_server.url("/hook"), body={"e": 1}))
    assert result["status"] == 202 and result["webhook_id"].startswith("msg_")


def test_public_names_are_sorted_and_real() -> None:
    names = handlers_pkg.__all__
    # isort style, as ruff keeps it: CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert all(hasattr(handlers_pkg, name) for name in names)


def test_importing_handlers_does_not_import_pillow() -> None:
    import subprocess
    import sys

    code = "import sys, noormme_queue.handlers; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- e-mail headers -------------------------------------------------------------------------

BAD_HEADER_NAMES = ["X\tTab", "X\x00Nul", "X:Colon", "X Space", "Ünicode", "", "X-Ok\n", "X\x7f"]
BAD_HEADER_VALUES = {
    "CR": "a\rb",
    "LF": "a\nb",
    "CRLF": "a\r\nBcc: evil@example.com",
    "VT": "a\vb",
    "FF": "a\fb",
    "NEL": "a\x85b",
    "LINE SEPARATOR": "a\u2028b",
    "PARAGRAPH SEPARATOR": "a\u2029b",
    "FILE SEPARATOR": "a\x1cb",
    "NUL": "a\x00b",
    "ESC": "a\x1bb",
    "trailing LF": "value\n",
}


@pytest.mark.parametrize("model", [EmailPayload, NewsletterPayload])
@pytest.mark.parametrize("name", BAD_HEADER_NAMES)
def test_a_bad_header_name_is_refused_naming_it(model: Any, name: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(model, {"to": "a@example.com", "headers": {name: "v"}})
    assert caught.value.field == "payload.headers"
    assert f"header name {name!r}" in str(caught.value)


@pytest.mark.parametrize("model", [EmailPayload, NewsletterPayload])
@pytest.mark.parametrize("value", BAD_HEADER_VALUES.values(), ids=BAD_HEADER_VALUES.keys())
def test_a_header_value_with_a_line_break_or_control_is_refused(model: Any, value: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(model, {"to": "a@example.com", "headers": {"X-Campaign": value}})
    assert caught.value.field == "payload.headers.X-Campaign"
    assert "payload.headers.X-Campaign" in str(caught.value)
    assert "line breaks" in str(caught.value) or "control characters" in str(caught.value)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "a@example.com", "subject": "Hi\u2028Bcc: x@example.com"}, "payload.subject"),
        ({"to": "a@example.com", "subject": "Hi\x85there"}, "payload.subject"),
        ({"to": "Ann\u2028 <a@example.com>"}, "payload.to.0"),
        ({"to": "a@example.com", "replyTo": "b@example.com\x0b"}, "payload.replyTo.0"),
        ({"to": "a@example.com", "from": "Me\x0c <me@example.com>"}, "payload.from"),
        (
            {"to": "a@example.com", "attachments": [{"filename": "a\u2029.pdf", "content": ""}]},
            "payload.attachments.0.filename",
        ),
    ],
)
def test_every_field_that_becomes_a_header_refuses_line_breaks(
    payload: dict[str, Any], field: str
) -> None:
    for model in (EmailPayload, NewsletterPayload):
        with pytest.raises(InvalidPayload) as caught:
            validate_payload(model, {**payload, **({"cc": []} if model is EmailPayload else {})})
        assert caught.value.field == field


def test_tabs_and_non_ascii_text_in_header_values_are_fine() -> None:
    from noormme_queue.handlers.mail_message import build_message

    headers = {"X-Campaign": "spring\tsale", "X-Note": "Café ☕", "X-Odd_Name!": "1"}
    model = EmailPayload.model_validate(
        {"to": "a@example.com", "subject": "Grüße", "headers": headers}
    )
    message = build_message(model, sender="me@example.com", to=model.to)
    raw = message.as_bytes()
    assert b"X-Odd_Name!: 1" in raw and "Grüße".encode() not in raw  # RFC 2047-encoded, not raw
    assert str(message["X-Note"]) == "Café ☕" and str(message["Subject"]) == "Grüße"
