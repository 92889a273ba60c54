"""The ``webhook`` handler and the ``api-calls`` processor: guarded outgoing HTTP.

A delivery is one HTTP request per attempt. The handler never sleeps or loops
to retry: it raises, and the persistent tier's retry machinery (with the
payload's ``retry_policy``, stored on the job) decides when to run it again.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core.errors import InvalidPayload
from ..core.job import JSON, Job
from ..core.retry import RetryPolicy
from .http_models import ApiCallPayload, WebhookPayload
from .net import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpClientFactory,
    guarded_client,
    is_public_address,
    raise_for_delivery_status,
    send_following_same_host,
    snippet_of,
)
from .payload import parse_job_payload, parse_payload
from .signing import signature_headers

logger = logging.getLogger("noormme_queue.handlers.webhook")

WEBHOOK_MAX_RESPONSE_BYTES = 1024 * 1024


class NetworkError(Exception):
    """The request never got an answer (refused, reset, timed out): worth retrying."""


def encode_body(body: JSON, headers: dict[str, str]) -> bytes | None:
    """Bytes to send: text as UTF-8, anything else as compact JSON, with a Content-Type."""
    if body is None:
        return None
    has_type = any(name.lower() == "content-type" for name in headers)
    if isinstance(body, str):
        if not has_type:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode("utf-8")
    if not has_type:
        headers["Content-Type"] = "application/json"
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class WebhookSender:
    """Delivers webhook payloads; ``allow_private`` turns the SSRF guard off."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        client_factory: HttpClientFactory = guarded_client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.allow_private = allow_private
        self._client_factory = client_factory
        self._clock = clock

    async def deliver(
        self, payload: WebhookPayload, *, message_id: str | None = None
    ) -> dict[str, JSON]:
        """Send ``payload`` once. ``message_id`` (the job id) stays the same across retries,
        so a receiver can drop duplicates by ``webhook-id``."""
        headers = dict(payload.headers)
        content = encode_body(payload.body, headers)
        webhook_id = message_id or "msg_" + secrets.token_hex(12)
        if payload.secret is not None:
            headers.update(
                signature_headers(payload.secret, webhook_id, int(self._clock()), content or b"")
            )
        async with self._client_factory(
            allow_private=self.allow_private, timeout=payload.timeout
        ) as client:
            request = client.build_request(
                payload.method, payload.url, headers=headers, content=content
            )
            try:
                response, body = await send_following_same_host(
                    client, request, max_response_bytes=WEBHOOK_MAX_RESPONSE_BYTES
                )
            except httpx.TransportError as exc:
                raise NetworkError(f"webhook to {_host(payload.url)} failed: {exc!r}") from exc
        raise_for_delivery_status(response, body, f"webhook receiver {_host(payload.url)}")
        status = response.status_code
        logger.info("webhook %s delivered to %s: HTTP %d", webhook_id, _host(payload.url), status)
        return {"status": status, "body": snippet_of(body), "webhook_id": webhook_id}

    async def api_call(self, payload: ApiCallPayload) -> dict[str, JSON]:
        """Make the request and return it like ``fetch`` would: any status is a result."""
        options = payload.options
        headers = dict(options.headers)
        content = encode_body(options.body, headers)
        async with self._client_factory(
            allow_private=self.allow_private, timeout=options.timeout
        ) as client:
            request = client.build_request(
                options.method, payload.url, headers=headers, content=content
            )
            response, body = await send_following_same_host(
                client, request, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES
            )
        return {
            "status": response.status_code,
            "ok": response.is_success,
            "headers": dict(response.headers),
            "body": decode_response_body(response, body),
        }


def decode_response_body(response: httpx.Response, body: bytes) -> JSON:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return json.loads(body)
        except ValueError:
            pass
    return body.decode(response.encoding or "utf-8", errors="replace")


def refuse_private_literal(url: str, field: str = "payload.url") -> None:
    """``InvalidPayload`` if ``url``'s host is an IP address the SSRF guard would refuse."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: resolved and checked when the request is made
    if not is_public_address(address):
        raise InvalidPayload(
            f"{field}: {address} is a private, loopback, link-local, multicast or reserved "
            "address; webhooks to those are refused (set QUEUE_WEBHOOK_ALLOW_PRIVATE=true "
            "to allow them)",
            field=field,
        )


def _host(url: str) -> str:
    # Logs and errors name the host only: a URL's path or query may carry a token.
    return httpx.URL(url).host


class WebhookHandler:
    """Job type ``webhook``: one delivery per attempt, retried by the job's policy."""

    payload_model = WebhookPayload

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    async def process(self, job: Job) -> JSON:
        payload = parse_job_payload(WebhookPayload, job.payload)
        return await self.sender.deliver(payload, message_id=job.id)

    def check_payload(self, payload: JSON) -> None:
        """At enqueue: refuse a URL whose host is already a private or loopback address.

        Host names are resolved (and checked again) only when the delivery is made, since
        DNS answers can change between enqueue and run.
        """
        if self.sender.allow_private or not isinstance(payload, Mapping):
            return
        url = payload.get("url")
        if isinstance(url, str):
            refuse_private_literal(url)

    def retry_policy_for(self, payload: Any) -> RetryPolicy | None:
        """The payload's ``retry_policy``, which the manager stores on the job."""
        return parse_payload(WebhookPayload, payload).policy()
