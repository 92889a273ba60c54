"""``noormme-queue serve``: API, dashboard and worker in one process, on uvicorn.

``run_until_signalled`` owns SIGTERM/SIGINT (first: graceful, second: at once),
so uvicorn's own signal capture is switched off; on stop the manager finishes
first, then uvicorn closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse

from ..core.errors import ConfigError
from ..manager import QueueManager, StopReport
from ..runner import run_until_signalled
from .access_log import AccessLog
from .app import API_PREFIX, DASHBOARD_PREFIX, create_app

log = logging.getLogger("noormme_queue.serve")

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to expose the API beyond this machine without a token: it can enqueue webhooks
    and mail, and cancel or retry anything."""
    if not token and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without an API token: anyone who can reach it could "
            "enqueue webhooks and e-mail. Set QUEUE_API_TOKEN (e.g. to the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`) or serve on "
            "127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a ConfigError that says why not (before anything starts)."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


class SameOriginWrites:
    """Refuse a browser's cross-site write (a form posted from another site to /cleanup).

    Browsers name the page's origin on such requests; without a token to prove intent,
    a write is accepted only from no origin (curl, scripts) or from this service itself.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and origin.split("://", 1)[-1] != host:
                response = JSONResponse(
                    {
                        "success": False,
                        "error": "forbidden",
                        "message": f"cross-site request from {origin} refused",
                    },
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # run_until_signalled handles the signals


def http_server(
    qm: QueueManager, sock: socket.socket, *, log_level: str = "info", access_log: bool = True
) -> Callable[[], Awaitable[None]]:
    """A coroutine factory running uvicorn on ``sock`` until cancelled, then closing it
    gracefully (open requests get a few seconds). ``access_log``: one record per request on
    the ``noormme_queue.access`` logger."""
    app: Any = create_app(qm)
    if not qm.config.api_token:
        # Without a token only this machine may talk to us; checking the Host header also
        # stops a web page from reaching the API through DNS rebinding.
        app = TrustedHostMiddleware(SameOriginWrites(app), allowed_hosts=LOOPBACK_HOSTS)
    if access_log:
        app = AccessLog(app)  # outermost: refused requests are logged too
    config = uvicorn.Config(
        app,
        log_config=None,  # keep the CLI's logging
        log_level=log_level.lower(),
        access_log=False,  # AccessLog writes ours, through the same logging setup
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = _Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            await task
            raise

    return serve


async def serve_forever(
    qm: QueueManager,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    access_log: bool = True,
    before_start: Callable[[QueueManager], Awaitable[object]] | None = None,
) -> StopReport:
    """Serve until SIGTERM/SIGINT. ``before_start`` runs once the manager has started (the
    demo enqueues its jobs there)."""
    check_exposure(host, qm.config.api_token)
    sock = bind(host, port)
    serve = http_server(qm, sock, log_level=log_level, access_log=access_log)

    async def run() -> None:
        if before_start is not None:
            await before_start(qm)
        shown = f"[{host}]" if ":" in host else host
        real_port = sock.getsockname()[1]
        log.info(
            "dashboard at http://%s:%d%s, API at http://%s:%d%s (%s)",
            shown,
            real_port,
            DASHBOARD_PREFIX,
            shown,
            real_port,
            API_PREFIX,
            "token required" if qm.config.api_token else "no token: loopback only",
        )
        await serve()

    try:
        return await run_until_signalled(qm, also=run)
    finally:
        sock.close()
