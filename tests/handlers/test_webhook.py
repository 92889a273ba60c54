"""Webhook deliveries against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from typing import Any

import pytest

from noormme_queue.core.config import QueueConfig
from noormme_queue.core.retry import RetryPolicy
from noormme_queue.core.signals import RetryLater, UnrecoverableError
from noormme_queue.handlers import (
    DestinationNotAllowed,
    NetworkError,
    WebhookPayload,
    build_builtin_handlers,
)

from .conftest import HttpServer, Reply, free_port, make_job


def webhook_handler(allow_private: bool = True) -> Any:
    config = QueueConfig(webhook_allow_private=allow_private)
    return build_builtin_handlers(config)["webhook"]


async def deliver(payload: dict[str, Any], allow_private: bool = True) -> Any:
    return await webhook_handler(allow_private).process(make_job("webhook", payload))


async def test_2xx_delivers_json_and_records_status_and_snippet(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(200, b"thanks " + b"x" * 2000, {})
    result = await deliver(
        {
            "url": http_server.url("/hook"),
            "headers": {"X-API-Key": "your-key"},
            "body": {"event": "user.created", "data": {"id": 7}},
        }
    )
    [request] = http_server.hits("/hook")
    assert request.method == "POST"
    assert request.json() == {"event": "user.created", "data": {"id": 7}}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-api-key"] == "your-key"
    assert result["status"] == 200
    assert result["body"].startswith("thanks x") and len(result["body"]) <= 501
    assert result["webhook_id"] == "job_T1"


async def test_text_body_and_method(http_server: HttpServer) -> None:
    http_server.routes["/t"] = Reply(204, b"", {})
    await deliver({"url": http_server.url("/t"), "method": "put", "body": "plain words"})
    [request] = http_server.hits("/t")
    assert request.method == "PUT" and request.body == b"plain words"
    assert request.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_4xx_fails_without_retry(http_server: HttpServer, status: int) -> None:
    http_server.routes["/hook"] = Reply(status, b"nope", {})
    with pytest.raises(UnrecoverableError, match=str(status)):
        await deliver({"url": http_server.url("/hook"), "body": {}})


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_retryable_status_honours_retry_after(http_server: HttpServer, status: int) -> None:
    http_server.routes["/hook"] = Reply(status, b"later", {"Retry-After": "42"})
    with pytest.raises(RetryLater) as caught:
        await deliver({"url": http_server.url("/hook"), "body": {}})
    assert caught.value.delay == 42
    assert str(status) in caught.value.reason


async def test_retry_after_as_http_date(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(503, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(RetryLater) as caught:
        await deliver({"url": http_server.url("/hook")})
    assert caught.value.delay == 0  # a date in the past: retry now


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_retryable_status_without_retry_after_uses_backoff(
    http_server: HttpServer, status: int
) -> None:
    http_server.routes["/hook"] = Reply(status, b"oops", {})
    with pytest.raises(Exception, match=str(status)) as caught:
        await deliver({"url": http_server.url("/hook")})
    # An ordinary failure: the worker retries it with the job's backoff.
    assert not isinstance(caught.value, RetryLater | UnrecoverableError)


async def test_network_error_is_retried_with_backoff() -> None:
    port = free_port()  # bound then closed: nothing listens there
    with pytest.raises(NetworkError) as caught:
        await deliver({"url": f"http://127.0.0.1:{port}/hook"})
    assert not isinstance(caught.value, RetryLater | UnrecoverableError)


@pytest.mark.parametrize(
    "secret", ["plain-shared-secret", "whsec_" + base64.b64encode(b"k" * 24).decode()]
)
async def test_signature_verifies(http_server: HttpServer, secret: str) -> None:
    http_server.routes["/hook"] = Reply(200, b"ok", {})
    await deliver({"url": http_server.url("/hook"), "body": {"a": 1}, "secret": secret})
    [request] = http_server.hits("/hook")
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode()
    )
    signed = f"{message_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    assert message_id == "job_T1" and timestamp.isdigit()
    assert json.loads(request.body) == {"a": 1}


async def test_no_signature_headers_without_secret(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(200, b"ok", {})
    await deliver({"url": http_server.url("/hook"), "body": {}})
    assert "webhook-signature" not in http_server.hits("/hook")[0].headers


async def test_redirect_to_another_host_is_not_followed(http_server: HttpServer) -> None:
    # 127.0.0.1 and localhost are different hosts, though the same server.
    http_server.routes["/hook"] = Reply(
        307, b"", {"Location": http_server.url("/elsewhere", host="localhost")}
    )
    http_server.routes["/elsewhere"] = Reply(200, b"ok", {})
    with pytest.raises(UnrecoverableError, match="another host"):
        await deliver({"url": http_server.url("/hook"), "body": {}})
    assert http_server.hits("/elsewhere") == []


async def test_redirect_within_the_host_is_followed(http_server: HttpServer) -> None:
    http_server.routes["/old"] = Reply(308, b"", {"Location": "/new"})
    http_server.routes["/new"] = Reply(200, b"moved ok", {})
    result = await deliver({"url": http_server.url("/old"), "body": {"x": 1}})
    assert result["status"] == 200
    [request] = http_server.hits("/new")
    assert request.method == "POST" and request.json() == {"x": 1}


async def test_loopback_is_refused_by_default(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(200, b"ok", {})
    with pytest.raises(DestinationNotAllowed, match=r"127\.0\.0\.1"):
        await deliver({"url": http_server.url("/hook")}, allow_private=False)
    assert http_server.requests == []


async def test_hostname_resolving_to_loopback_is_refused(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(200, b"ok", {})
    with pytest.raises(DestinationNotAllowed):
        await deliver({"url": http_server.url("/hook", host="localhost")}, allow_private=False)
    assert http_server.requests == []


async def test_loopback_allowed_with_allow_private(http_server: HttpServer) -> None:
    http_server.routes["/hook"] = Reply(200, b"ok", {})
    result = await deliver({"url": http_server.url("/hook", host="localhost")}, allow_private=True)
    assert result["status"] == 200


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "169.254.169.254", "[::1]", "0.0.0.0", "224.0.0.1", "[::ffff:127.0.0.1]"]
)
async def test_private_and_special_addresses_are_refused(host: str) -> None:
    with pytest.raises(DestinationNotAllowed):
        await deliver({"url": f"http://{host}:9/hook"}, allow_private=False)


def test_retry_policy_comes_from_the_payload() -> None:
    handler = webhook_handler()
    spec_style = {
        "url": "https://api.example.com/webhook",
        "retryPolicy": {
            "maxRetries": 5,
            "baseDelay": 2000,
            "maxDelay": 30000,
            "backoffMultiplier": 2,
        },
    }
    policy = handler.retry_policy_for(spec_style)
    assert policy == RetryPolicy(
        max_retries=5, base_delay=2.0, max_delay=30.0, backoff_multiplier=2
    )
    assert handler.retry_policy_for({"url": "https://a.example"}) is None
    # the normalised (stored) payload gives the same policy
    stored = WebhookPayload.model_validate(spec_style).model_dump(mode="json")
    assert handler.retry_policy_for(stored) == policy


def test_secret_is_kept_out_of_repr() -> None:
    payload = WebhookPayload(url="https://a.example/h", secret="top-secret-value")
    assert "top-secret-value" not in repr(payload)


def test_closed_port_helper_really_is_closed() -> None:
    port = free_port()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))
