"""The REST API and dashboard (extra ``api``: ``pip install 'noormme-queue[api]'``).

``create_router(qm)`` is a FastAPI router to mount at ``/api/queue`` in any
FastAPI app; ``create_app(qm)`` is a whole app (API at ``/api/queue``,
dashboard at ``/queue``) whose lifespan starts and stops the manager;
``create_api_app(qm)`` is the API alone, to mount in a Starlette app.
``import noormme_queue`` never imports this package, so the core works
without FastAPI.
"""

from __future__ import annotations

try:
    import fastapi as _fastapi  # noqa: F401 - fail early with a useful message
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "noormme_queue.api needs FastAPI and uvicorn: pip install 'noormme-queue[api]'"
    ) from exc

from .app import create_api_app, create_app
from .dashboard import create_dashboard_router
from .routes import create_router

__all__ = ["create_api_app", "create_app", "create_dashboard_router", "create_router"]
