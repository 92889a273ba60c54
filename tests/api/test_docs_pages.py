"""``/docs`` and ``/redoc`` load nothing from elsewhere: every URL in their HTML is this app's,
each asset is served, and in a real browser with every other host cut off both render."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Request, Route, expect, sync_playwright
from starlette.applications import Starlette
from starlette.routing import Mount

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.api import create_api_app, create_app

from ..waiting import wait_for
from .test_dashboard_browser import CHROMIUM_ARGS

PAGES = ("/docs", "/redoc", "/queue")
_URL = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*['"]([^'"]+)['"]""", re.IGNORECASE)


def _urls(html: str) -> list[str]:
    return _URL.findall(html)


@pytest.mark.parametrize("page", PAGES)
def test_pages_name_only_this_apps_urls(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    urls = _urls(response.text)
    assert urls, f"no asset URL found in {page}"
    for url in urls:
        if url.startswith("data:"):  # inline, part of the page itself
            continue
        assert url.startswith("/") and not url.startswith("//"), (page, url)
        assert client.get(url).status_code == 200, (page, url)
    assert not re.search(r"https?://", response.text), response.text  # no CDN, no fonts
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy or "default-src 'none'" in policy


def test_assets_have_their_types(client: TestClient) -> None:
    types = {
        "/docs/static/swagger-ui-bundle.js": "text/javascript",
        "/docs/static/swagger-ui.css": "text/css",
        "/docs/static/redoc.standalone.js": "text/javascript",
        "/docs/static/favicon.png": "image/png",
    }
    for url, media_type in types.items():
        response = client.get(url)
        assert response.headers["content-type"].startswith(media_type), url
        assert client.head(url).status_code == 200
    assert client.get("/docs/static/../../pyproject.toml").status_code == 404
    assert client.get("/docs/static/index.html").status_code == 404


def test_mounted_under_a_prefix_the_pages_point_under_it(manager: QueueManager) -> None:
    app = Starlette(routes=[Mount("/api/queue", app=create_api_app(manager))])
    with TestClient(app) as client:
        page = client.get("/api/queue/docs")
        assert page.status_code == 200
        urls = _urls(page.text)
        assert urls and all(url.startswith("/api/queue/") for url in urls), urls
        assert all(client.get(url).status_code == 200 for url in urls)


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    """The whole app on uvicorn on 127.0.0.1, in a thread of this process."""
    qm = QueueManager(
        QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0)
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(qm), log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "uvicorn stopped"
        return bool(server.started)

    wait_for(started, 30, "uvicorn to start", poll=0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_swagger_ui_and_redoc_render_with_every_other_host_cut_off(live_url: str) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: `apt-get install -y chromium`"
    elsewhere: list[str] = []
    problems: list[str] = []

    def only_here(route: Route, request: Request) -> None:
        if request.url.startswith(live_url + "/"):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_here)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{live_url}/docs")
            # the operations come from /openapi.json, rendered by the local bundle
            expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Enqueue a job").first).to_be_visible()
            page.goto(f"{live_url}/redoc")
            heading = page.get_by_role("heading", name=re.compile("Enqueue a job"))
            expect(heading.first).to_be_visible(timeout=30_000)
        finally:
            browser.close()
    assert elsewhere == []
    assert problems == []
