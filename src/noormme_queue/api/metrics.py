"""``GET /metrics``: Prometheus's text format, behind the API's bearer token (extras ``api``
and ``metrics``).

``serve`` (``create_app``) has it at ``/metrics``. Elsewhere, :func:`create_metrics_router`
is a FastAPI router to include, and :func:`create_metrics_app` a plain ASGI app to route to
in any ASGI framework (``app.add_route("/metrics", create_metrics_app(qm))``). What it
reports: ``noormme_queue/contrib/prometheus.py`` and docs/observability.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from ..contrib.prometheus import CONTENT_TYPE, queue_metrics
from ..manager import QueueManager
from .auth import TokenGuard, token_guard
from .errors import ApiError, from_exception
from .route_class import envelope_route_class


def create_metrics_router(
    qm: QueueManager, *, token: str | None = None, path: str = "/metrics"
) -> APIRouter:
    """A router with ``GET path``. ``token`` (default ``QUEUE_API_TOKEN``) is required as a
    bearer token, as on the API; a refusal is the API's envelope (401)."""
    token = token if token is not None else qm.config.api_token
    guard = [Depends(token_guard(token))] if token else []
    metrics = queue_metrics(qm)
    router = APIRouter(route_class=envelope_route_class(None))

    @router.get(path, dependencies=guard, include_in_schema=False, response_class=Response)
    async def scrape() -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE)

    return router


def create_metrics_app(qm: QueueManager, *, token: str | None = None) -> Any:
    """An ASGI app answering ``GET`` (and ``HEAD``) on any path it is routed with the
    scrape; ``token`` as for :func:`create_metrics_router`. It has no lifespan of its own:
    whoever runs ``qm`` starts and stops it."""
    return MetricsApp(qm, token if token is not None else qm.config.api_token)


class MetricsApp:
    def __init__(self, qm: QueueManager, token: str | None) -> None:
        self._metrics = queue_metrics(qm)
        self._guard = TokenGuard(token) if token else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # run on its own: nothing to start
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise ApiError(405, "method_not_allowed", "only GET reads the metrics")
            if self._guard is not None:
                headers = dict(scope["headers"])
                self._guard.check(_header(headers.get(b"authorization")))
            response: Response = Response(await self._metrics.render(), media_type=CONTENT_TYPE)
        except Exception as exc:
            response = from_exception(exc).response()
        await response(scope, receive, send)


def _header(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
