"""The access log of ``noormme-queue serve``: one record per HTTP request.

Records go to the ``noormme_queue.access`` logger at INFO, so they take the CLI's log
format (``QUEUE_LOG_FORMAT``); JSON lines carry ``method``, ``path``, ``status``,
``duration_ms`` and ``client`` as fields. No header is ever logged (``Authorization``
carries the API token) and secret-named query values are masked.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import unquote_plus

from .redact import MASK, is_secret_key

access = logging.getLogger("noormme_queue.access")


def logged_target(scope: Any) -> str:
    """The request's path and query as sent, with the values of secret-named query
    parameters masked (the same names redact.py masks in API answers)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return str(path)
    pieces = []
    for piece in query.split("&"):
        name = piece.partition("=")[0]
        pieces.append(f"{name}={MASK}" if is_secret_key(unquote_plus(name)) else piece)
    return f"{path}?{'&'.join(pieces)}"


class AccessLog:
    """One log record per HTTP request, once it is answered: method, path, status,
    duration and client. Headers are never logged (Authorization carries the API token)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before answering

        async def send_and_note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            took = (time.perf_counter() - started) * 1000
            host, port = scope.get("client") or ("-", 0)
            client = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            target = logged_target(scope)
            access.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                target,
                status,
                took,
                client,
                extra={
                    "method": scope["method"],
                    "path": target,
                    "status": status,
                    "duration_ms": round(took, 3),
                    "client": client,
                },
            )
