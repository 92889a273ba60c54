"""``create_app``: API at ``/api/queue``, dashboard at ``/queue``, manager run by the lifespan."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

from ..manager import QueueManager
from .dashboard import create_dashboard_router
from .docs_pages import add_local_docs
from .errors import ApiError, from_exception
from .route_class import envelope_route_class
from .routes import create_router

DESCRIPTION = (
    "Background jobs: enqueue, watch and steer them. Answers are "
    '`{"success": true, "data": ...}` or `{"success": false, "error", "message", "field"}`.'
)
API_PREFIX = "/api/queue"
# FastAPI's own /docs and /redoc load their scripts from a CDN; docs_pages serves them locally.
NO_CDN_DOCS: dict[str, Any] = {"docs_url": None, "redoc_url": None}
DASHBOARD_PREFIX = "/queue"


def _version() -> str:
    try:
        return version("noormme-queue")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def create_api_app(
    qm: QueueManager,
    *,
    token: str | None = None,
    allowed_types: Collection[str] | None = None,
) -> FastAPI:
    """The API alone as an ASGI app (its OpenAPI at ``/openapi.json``), to mount in a
    Starlette (or any ASGI) app: ``Mount("/api/queue", app=create_api_app(qm))``. It has no
    lifespan: the host app starts and stops the manager."""
    app = FastAPI(title="noormme-queue", version=_version(), description=DESCRIPTION, **NO_CDN_DOCS)
    add_local_docs(app)
    app.include_router(create_router(qm, token=token, allowed_types=allowed_types))
    _envelope_everything(app)
    return app


def create_app(
    qm: QueueManager,
    *,
    token: str | None = None,
    allowed_types: Collection[str] | None = None,
) -> FastAPI:
    """A whole service over ``qm``. The lifespan starts ``qm`` unless it already runs (then
    whoever started it stops it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = qm.loop is None
        if owned:
            await qm.start()
        try:
            yield
        finally:
            if owned:
                await qm.stop()

    app = FastAPI(
        title="noormme-queue",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        **NO_CDN_DOCS,
    )
    add_local_docs(app)
    app.include_router(
        create_router(qm, token=token, allowed_types=allowed_types, dashboard=False),
        prefix=API_PREFIX,
    )
    app.include_router(create_dashboard_router(API_PREFIX), prefix=DASHBOARD_PREFIX)
    app.include_router(_metrics_router(qm, token))

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(DASHBOARD_PREFIX)

    _envelope_everything(app)
    return app


def _metrics_router(qm: QueueManager, token: str | None) -> APIRouter:
    """``GET /metrics`` (api/metrics.py), or where prometheus-client is not installed, a
    ``/metrics`` that says how to get it."""
    if importlib.util.find_spec("prometheus_client") is not None:
        from .metrics import create_metrics_router

        return create_metrics_router(qm, token=token)
    router = APIRouter(route_class=envelope_route_class(None))

    @router.get("/metrics", include_in_schema=False)
    async def no_metrics() -> None:
        raise ApiError(
            501,
            "not_installed",
            "metrics need prometheus-client: pip install 'noormme-queue[metrics]'",
        )

    return router


def _envelope_everything(app: FastAPI) -> None:
    """Paths no route matches (and methods a route lacks) get the envelope too."""

    async def envelope(request: Request, exc: Exception) -> JSONResponse:
        return from_exception(exc).response()

    app.add_exception_handler(HTTPException, envelope)
    app.add_exception_handler(RequestValidationError, envelope)
