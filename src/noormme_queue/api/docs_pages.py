"""``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by the app itself, no CDN.

The assets come from the ``fastapi-offline`` package (part of the ``api`` extra), read from
its files; the pages are FastAPI's own, pointed at them, with Swagger UI's online validator
and ReDoc's web fonts switched off, and a Content-Security-Policy that lets the browser load
nothing from another origin. Without the package there are no docs pages (the
OpenAPI document is still at ``/openapi.json``): a page never loads anything from elsewhere.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from .route_class import head_route_class

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
STATIC = "/docs/static"
# Nothing from another origin, ever: this also stops ReDoc's footer logo (it fetches it from
# its vendor's CDN). Swagger UI starts from an inline script, hence 'unsafe-inline'.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _asset_dir() -> Traversable | None:
    try:
        folder = files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        return None
    return folder if all((folder / name).is_file() for name in ASSETS) else None


@cache
def _asset(name: str) -> bytes:
    folder = _asset_dir()
    assert folder is not None
    return (folder / name).read_bytes()


def add_local_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from local assets (create the app with both unset)."""
    if _asset_dir() is None or app.openapi_url is None:
        return
    openapi_url = app.openapi_url
    router = APIRouter(include_in_schema=False, route_class=head_route_class())

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{base}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{base}{STATIC}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},  # it would call validator.swagger.io
        )
        page.headers.update(PAGE_HEADERS)
        return page

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{STATIC}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(PAGE_HEADERS)
        return page

    @router.get(STATIC + "/{name}")
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, "no such file")
        return Response(
            _asset(name),
            media_type=media_type,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=86400"},
        )

    app.include_router(router)
