"""The queue's REST API and dashboard inside Django's URLs::

    urlpatterns += [path("queue/", include("noormme_queue.contrib.django.urls"))]
    # dashboard at /queue/dashboard, API at /queue/jobs, /queue/stats, ...

The API is an ASGI app (``noormme_queue.api.create_api_app``); this async view hands it each
request and returns its answer, so it runs under WSGI and ASGI alike. It uses the default
backend's queue manager, and the API's own bearer token (``QUEUE_API_TOKEN``): add your own
check by routing to :func:`queue_app` yourself, e.g. wrapped in ``staff_member_required``.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ...manager import QueueManager

_apps: dict[int, Any] = {}
_lock = threading.Lock()


def _api_for(manager: QueueManager) -> Any:
    with _lock:
        app = _apps.get(id(manager))
        if app is None:
            from ...api import create_api_app

            app = _apps[id(manager)] = create_api_app(manager)
        return app


def _manager() -> QueueManager:
    from .backend import NoormmeTaskBackend
    from .compat import task_backends

    backend = task_backends["default"]
    if isinstance(backend, NoormmeTaskBackend):
        return backend.manager
    from ...manager import get_queue_manager

    return get_queue_manager()


@csrf_exempt  # the API authenticates by bearer token, never by cookie
async def queue_app(request: HttpRequest, path: str = "") -> HttpResponse:
    """Forward the request to the queue's API (``path`` is the part after the mount)."""
    prefix = request.path[: len(request.path) - len(path)].rstrip("/")
    headers = [
        (key.lower().encode("latin-1"), value.encode("latin-1"))
        for key, value in request.headers.items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method or "GET",
        "scheme": request.scheme or "http",
        "path": f"{prefix}/{path}",
        "raw_path": f"{prefix}/{path}".encode(),
        "root_path": prefix,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (request.get_host().split(":")[0], int(request.get_port() or 80)),
    }
    body = request.body
    sent = False
    status = 500
    response_headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await _api_for(_manager())(scope, receive, send)
    response = HttpResponse(b"".join(chunks), status=status)
    for key, value in response_headers:
        name = key.decode("latin-1")
        if name.lower() != "content-length":
            response[name] = value.decode("latin-1")
    return response
