"""The dashboard: one HTML page, one script and one stylesheet, no build step, no CDN.

The page holds no data and needs no token; its script fetches everything from
the API with the token the user gives (``?token=`` once, or the form), kept in
``sessionStorage``. A strict Content-Security-Policy backs up the script's rule
of only ever writing data with ``textContent``.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from .route_class import head_route_class

ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "panels.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page URL may carry ?token= on first load
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def _asset(name: str) -> str:
    return (files("noormme_queue.api") / "static" / name).read_text(encoding="utf-8")


def create_dashboard_router(api_base: str | None = None) -> APIRouter:
    """The dashboard, to include under a prefix (``/queue``); ``api_base`` is where the API
    is mounted (default: the parent of the page's path, for ``<api prefix>/dashboard``)."""
    router = APIRouter(include_in_schema=False, route_class=head_route_class())

    @router.get("", response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        page_path = request.url.path.rstrip("/")
        api = api_base if api_base is not None else page_path.rsplit("/", 1)[0]
        text = (
            _asset("dashboard.html")
            .replace("{{ASSETS}}", html.escape(f"{page_path}/static", quote=True))
            .replace("{{API_BASE}}", html.escape(api, quote=True))
        )
        return HTMLResponse(text, headers=SECURITY_HEADERS)

    @router.get("/static/{name}")
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, "no such file")
        return Response(
            _asset(name),
            media_type=media_type,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return router
