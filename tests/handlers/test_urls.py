"""Webhook and api-calls URLs: refused at enqueue when a client could misread them, normalised."""

from __future__ import annotations

from typing import Any

import pytest

from noormme_queue.core.errors import InvalidPayload
from noormme_queue.handlers import ApiCallPayload, WebhookPayload, validate_payload

REFUSED = [
    pytest.param("http://exa\x00mple.com/hook", "U+0000", id="nul"),
    pytest.param("http://example.com/ho\x01ok", "U+0001", id="control"),
    pytest.param("http://example.com/\x7f", "U+007F", id="del"),
    pytest.param("http://example.com/a\u2028b", "U+2028", id="line-separator"),
    pytest.param("http://example.com/\u200b", "U+200B", id="zero-width-space"),
    pytest.param(" https://example.com/hook", "U+0020 at position 0", id="leading-space"),
    pytest.param("https://example.com/hook ", "U+0020", id="trailing-space"),
    pytest.param("https://example.com/a b", "U+0020", id="inner-space"),
    pytest.param("\thttps://example.com/", "U+0009", id="leading-tab"),
    pytest.param("https://example.com/\n", "U+000A", id="newline"),
    pytest.param("http://0177.0.0.1/", "canonical", id="octal"),
    pytest.param("http://0x7f.0.0.1/", "canonical", id="hex"),
    pytest.param("http://0x7f000001/", "canonical", id="hex-integer"),
    pytest.param("http://2130706433/", "canonical", id="integer"),
    pytest.param("http://127.1/", "canonical", id="short-dotted"),
    pytest.param("http://127.0.0.01/", "canonical", id="leading-zero"),
    pytest.param("http://127.0.0.1./", "canonical", id="trailing-dot"),
    pytest.param("http://256.1.1.1/", "canonical", id="out-of-range"),
    pytest.param("http://①②⑦.0.0.1/", "NFKC gives '127.0.0.1'", id="circled-digits"),
    pytest.param("http://\uff11\uff12\uff17.0.0.1/", "NFKC", id="full-width-digits"),
    pytest.param(
        "http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/",  # full-width "example"
        "NFKC gives 'example.com'",
        id="full-width-letters",
    ),
    pytest.param("http://127。0。0。1/", "'.' only", id="ideographic-dots"),
    pytest.param("http://ex%41mple.com/", "not a valid host name", id="percent-in-host"),
    pytest.param("http://a..b/", "not a valid host name", id="empty-label"),
    pytest.param("http://[fe80::1%25eth0]/", "zone", id="ipv6-zone"),
    pytest.param("http://[::g]/", "IPv6", id="bad-ipv6"),
    pytest.param("http://evil.example\\@127.0.0.1/", "backslash", id="backslash"),
    pytest.param("http://", "absolute", id="no-host-at-all"),
    pytest.param("http:///path", "absolute", id="missing-host"),
    pytest.param("http://:8080/path", "must name a host", id="port-only"),
    pytest.param("https://user@/path", "must name a host", id="userinfo-only"),
    pytest.param("ftp://example.com/", "http:// or https://", id="ftp"),
    pytest.param("file:///etc/passwd", "http:// or https://", id="file"),
    pytest.param("gopher://example.com/", "http:// or https://", id="gopher"),
    pytest.param("example.com/hook", "http:// or https://", id="no-scheme"),
    pytest.param("https://example.com:99999/", "Port out of range", id="big-port"),
    pytest.param("https://example.com:0/", "port 0", id="port-zero"),
    pytest.param("https://example.com:x/", "not a valid URL", id="text-port"),
]


@pytest.mark.parametrize("model", [WebhookPayload, ApiCallPayload])
@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_a_url_a_client_could_misread_is_refused(model: Any, url: str, reason: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(model, {"url": url})
    assert caught.value.field == "payload.url"
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://api.example.com/webhook", "https://api.example.com/webhook"),
        ("HTTPS://API.Example.COM/Path?Q=1#F", "https://api.example.com/Path?Q=1#F"),
        ("https://example.com:0443/x", "https://example.com:443/x"),
        ("https://user:p%40ss@example.com/x", "https://user:p%40ss@example.com/x"),
        ("http://203.0.113.7:8080/hook", "http://203.0.113.7:8080/hook"),
        ("http://[2001:DB8:0:0::1]/hook", "http://[2001:db8::1]/hook"),
        ("http://bücher.example/", "http://bücher.example/"),
        ("http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"),
        ("http://hooks.example.com./x", "http://hooks.example.com./x"),
        ("http://my_service.internal/x", "http://my_service.internal/x"),
        ("http://localhost:8000/x", "http://localhost:8000/x"),
    ],
)
def test_an_accepted_url_is_stored_normalised(given: str, stored: str) -> None:
    assert validate_payload(WebhookPayload, {"url": given})["url"] == stored
    assert validate_payload(ApiCallPayload, {"url": given})["url"] == stored


@pytest.mark.parametrize(
    ("headers", "field", "reason"),
    [
        ({"X-Ok": "a\x00b"}, "payload.headers.X-Ok", "printable ASCII"),
        ({"X-Ok": "café"}, "payload.headers.X-Ok", "non-ASCII"),
        ({"X-Ok": " padded"}, "payload.headers.X-Ok", "between words"),
        ({"X-Ok": "a\u2028b"}, "payload.headers.X-Ok", "line breaks"),
        ({"X-Ok": "value\n"}, "payload.headers.X-Ok", "line breaks"),
        ({"X-Ok\n": "v"}, "payload.headers", "'X-Ok\\n'"),
        ({"X\tName": "v"}, "payload.headers", "'X\\tName'"),
        ({"X:Name": "v"}, "payload.headers", "'X:Name'"),
        ({"": "v"}, "payload.headers", "''"),
        ({"Ünicode": "v"}, "payload.headers", "'Ünicode'"),
    ],
)
def test_webhook_headers_a_client_cannot_send_are_refused(
    headers: dict[str, str], field: str, reason: str
) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(WebhookPayload, {"url": "https://example.com/", "headers": headers})
    assert caught.value.field == field and reason in str(caught.value)
    with pytest.raises(InvalidPayload):
        validate_payload(
            ApiCallPayload, {"url": "https://example.com/", "options": {"headers": headers}}
        )


def test_ordinary_webhook_headers_pass() -> None:
    headers = {"X-API-Key": "your-key", "Authorization": "Bearer a.b.c", "X-List": "a,\tb"}
    data = validate_payload(WebhookPayload, {"url": "https://example.com/", "headers": headers})
    assert data["headers"] == headers
