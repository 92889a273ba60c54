"""Outgoing HTTP for the webhook and api-calls handlers, behind an SSRF guard.

A payload's URL is untrusted: without a guard, a webhook could reach the
database admin on 127.0.0.1 or a cloud metadata service on 169.254.169.254.
The guard sits at the socket: :class:`GuardedBackend` resolves the host,
refuses the connection if any address is private, loopback, link-local,
multicast or reserved, and connects to the very address it checked. So a
hostname cannot smuggle 127.0.0.1 through DNS, and a DNS answer cannot change
between the check and the connect. TLS still verifies the certificate against
the hostname.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpcore
import httpx

from ..core.signals import RetryLater, UnrecoverableError

logger = logging.getLogger("noormme_queue.handlers.net")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RETRYABLE_STATUS = frozenset({408, 425, 429})
"""Besides every 5xx: request timeout, too early, too many requests."""

MAX_RETRY_AFTER = 24 * 3600.0
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class DestinationNotAllowed(UnrecoverableError):
    """The URL resolves to an address the SSRF guard refuses; retrying cannot help."""


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the guard allows."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port)
        if not self.allow_private:
            refused = [a for a in addresses if not is_public_address(a)]
            if refused:
                # Refuse when any answer is private: picking the public one would let an
                # attacker's DNS alternate answers between check and a later reconnect.
                raise DestinationNotAllowed(
                    f"refusing to connect to {host} ({refused[0]}): private, loopback, "
                    "link-local, multicast and reserved addresses are blocked "
                    "(set QUEUE_WEBHOOK_ALLOW_PRIVATE=true to allow them)"
                )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"{host!r} resolved to no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationNotAllowed("unix sockets are not reachable from a webhook")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs more than the request it serves.
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose every connection goes through the SSRF guard."""

    def __init__(self, *, allow_private: bool = False, verify: ssl.SSLContext | None = None):
        context = verify or _default_ssl_context()
        super().__init__(verify=context)
        # httpx takes no network backend, so swap in a pool built on ours; the rest of
        # AsyncHTTPTransport (request/response mapping, error mapping) is reused as is.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


class HttpClientFactory(Protocol):
    """Builds the client a handler uses for one call; it is closed after that call."""

    def __call__(self, *, allow_private: bool, timeout: float) -> httpx.AsyncClient: ...


def guarded_client(*, allow_private: bool, timeout: float) -> httpx.AsyncClient:
    """The default :class:`HttpClientFactory`: no proxies from the environment, no redirects."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,  # a proxy would make the guard check the proxy, not the target
    )


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


MAX_REDIRECTS = 5


async def send_following_same_host(
    client: httpx.AsyncClient, request: httpx.Request, *, max_response_bytes: int
) -> tuple[httpx.Response, bytes]:
    """Send ``request``, following redirects only within its origin.

    A redirect to another scheme, host or port is refused with
    :class:`UnrecoverableError`: the receiver moved, and a webhook should not
    chase it to wherever the response points (possibly somewhere internal).
    """
    origin = request.url
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True)
        try:
            body = await read_limited(response, max_response_bytes)
        finally:
            await response.aclose()
        following = response.next_request
        if following is None:
            return response, body
        if not same_origin(origin, following.url):
            raise UnrecoverableError(
                f"HTTP {response.status_code} redirect to another host "
                f"({following.url.scheme}://{following.url.host}) not followed"
            )
        request = following
    raise UnrecoverableError(f"more than {MAX_REDIRECTS} redirects")


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UnrecoverableError(f"response body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_seconds(
    value: str | None, now: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return min(max(0.0, (when - current).total_seconds()), MAX_RETRY_AFTER)


class HttpStatusError(Exception):
    """A response a retry may fix (408, 425, 429, 5xx) without a ``Retry-After``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def raise_for_delivery_status(response: httpx.Response, body: bytes, what: str) -> None:
    """Map a non-2xx response to the job signal it deserves.

    408, 425, 429 and 5xx retry: ``RetryLater`` when the server said when,
    otherwise an ordinary error so the job's backoff applies. Any other status
    fails the job for good: sending the same request again gets the same answer.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"{what} answered HTTP {status}"
    snippet = snippet_of(body)
    if snippet:
        detail += f": {snippet}"
    if status in RETRYABLE_STATUS or status >= 500:
        delay = retry_after_seconds(response.headers.get("retry-after"))
        if delay is not None:
            raise RetryLater(delay, detail)
        raise HttpStatusError(status, detail)
    raise UnrecoverableError(detail)


SNIPPET_CHARS = 500


def snippet_of(body: bytes, limit: int = SNIPPET_CHARS) -> str:
    text = body[: limit * 4].decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"
