"""The dashboard in a real browser (Debian's chromium via Playwright) against a live ``serve``.

One ``noormme-queue serve`` subprocess on 127.0.0.1 with a temp database and a token; the
page must load without console errors, show the store's counts, retry a failed job (seen
pending, then completed), show a ``<script>`` payload as text without running it, list the
queues with their counts and stored limits, pause and resume a queue (seen in the store), show
a queue name and a type name that are markup as text, filter jobs by queue, and work with the
token given in the URL or typed into its form.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from noormme_queue import QueueConfig, QueueManager

from ..waiting import wait_for
from .dashboard_app import HOSTILE_TYPE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "browser-test-token-9a7e"
XSS = {
    "note": "<script>window.__pwned = 1</script>",
    "img": '<img src=x onerror="window.__pwned = 2">',
}
# No valid queue name holds markup; a row another writer left could (written with SQL below).
HOSTILE_QUEUE = "<script>window.__pwned = 3</script>"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Service:
    url: str
    config: QueueConfig
    release: Path
    seeded: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            return httpx.get(f"{url}/api/queue/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, 30, "serve to become healthy", poll=0.05)


def _seed(config: QueueConfig) -> dict[str, str]:
    """Jobs written before the service starts, straight into its database."""
    qm = QueueManager(config, builtins=False)
    try:
        ids = {
            "flaky": qm.sync.add_job("flaky", {"step": "first"}, max_attempts=1),
            "xss": qm.sync.add_job("parked", XSS),  # no handler anywhere: stays pending
            "cancelled": qm.sync.add_job("ok", {}, delay=3600),
        }
        qm.sync.add_jobs([("ok", {"n": n}) for n in range(3)] + [("parked", {"n": 1})])
        qm.sync.cancel_job(ids["cancelled"])
    finally:
        qm.sync.close()
        qm.sync.stop()
    with sqlite3.connect(config.database_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE noormme_jobs SET queue = ? WHERE id = ?", (HOSTILE_QUEUE, ids["xss"]))
    db.close()
    return ids


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    config = QueueConfig(database_url=f"sqlite:///{tmp_path / 'queue.db'}", cleanup_interval=0)
    seeded = _seed(config)
    port = _free_port()
    release = tmp_path / "release"
    env = os.environ | {
        "QUEUE_DATABASE_URL": config.database_url,
        "QUEUE_API_TOKEN": TOKEN,
        "QUEUE_CONCURRENCY": "1",
        "QUEUE_CLEANUP_INTERVAL": "0",
        "DASHBOARD_TEST_RELEASE": str(release),
    }
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "noormme_queue", "serve"]
    command += ["--app", "tests.api.dashboard_app:create", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Service(url, config, release, seeded)
    finally:
        release.touch()  # never leave the blocker holding shutdown up
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0, log.read_text()  # a graceful stop on SIGTERM


def _api(service: Service) -> httpx.Client:
    return httpx.Client(
        base_url=f"{service.url}/api/queue", headers={"Authorization": f"Bearer {TOKEN}"}
    )


def _store_counts(service: Service) -> dict[str, int]:
    qm = QueueManager(service.config, builtins=False)  # reads the same file, runs nothing
    try:
        return qm.sync.get_stats().to_dict()
    finally:
        qm.sync.close()
        qm.sync.stop()


def _paused_in_store(service: Service) -> set[str]:
    """The paused queues, read by a manager of our own (on a thread: Playwright's sync API
    holds an event loop on this one, where ``qm.sync`` refuses to block)."""

    def read() -> set[str]:
        qm = QueueManager(service.config, builtins=False)
        try:
            return {q.name for q in qm.sync.list_queues() if q.paused}
        finally:
            qm.sync.close()
            qm.sync.stop()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def _wait_api(service: Service, job_id: str, status: str) -> None:
    with _api(service) as client:
        wait_for(
            lambda: client.get(f"/jobs/{job_id}").json()["data"]["status"] == status,
            20,
            f"{job_id} to become {status}",
        )


def _chromium_path() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: `apt-get install -y chromium` (scripts/dev.py does)"
    return path


@contextmanager
def dashboard_page(url: str, token: str, *, height: int = 1000) -> Iterator[tuple[Page, list[str]]]:
    """Chromium on the dashboard at ``url``, ready; the console errors and page errors it
    meets are collected in the list (each test asserts it stays empty)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            problems: list[str] = []

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    problems.append(f"console: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(f"{url}/queue?token={token}")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            yield page, problems
        finally:
            browser.close()


def _select(page: Page, job_id: str) -> None:
    page.locator(f'tr[data-job-id="{job_id}"]').click()
    expect(page.locator("#detail-id")).to_have_text(job_id)


def test_dashboard_in_a_real_browser(service: Service) -> None:
    seeded = service.seeded
    _wait_api(service, seeded["flaky"], "failed")
    with _api(service) as client:
        done = client.get("/jobs", params={"type": "ok", "status": "completed"}).json()
    assert len(done["data"]["jobs"]) <= 3
    # The three "ok" jobs finish on their own; then the counts stay put until we act.
    wait_for(lambda: _store_counts(service)["completed"] >= 3, 20, "the ok jobs to complete")
    counts = _store_counts(service)
    assert counts == {
        "total": 7,
        "pending": 2,
        "processing": 0,
        "completed": 3,
        "failed": 1,
        "cancelled": 1,
    }

    with dashboard_page(service.url, TOKEN) as (page, problems):
        assert "token" not in page.url  # taken out of the address bar and history

        # Counts match the store.
        for name, value in counts.items():
            expect(page.locator(f"#count-{name}")).to_have_text(str(value))
        expect(page.locator("#chart rect.bar.completed").first).to_be_visible()
        expect(page.locator("#memory tr")).to_have_count(5)  # the built-in memory queues

        # Filter by status through the count card.
        page.locator('[data-testid="count-failed"]').click()
        expect(page.locator("#jobs tr")).to_have_count(1)
        expect(page.locator(f'tr[data-job-id="{seeded["flaky"]}"]')).to_be_visible()

        # A <script> payload is shown as text and never runs.
        page.locator('[data-testid="count-total"]').click()
        expect(page.locator("#jobs tr")).to_have_count(7)
        _select(page, seeded["xss"])
        for text in XSS.values():  # shown as the JSON text it is
            expect(page.locator("#detail-payload")).to_contain_text(json.dumps(text))
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#detail-payload script, #detail-payload img").count() == 0

        # The queue of each job, in the list and in the detail; a queue name that is markup
        # is text there and in the queues panel.
        expect(page.locator("#detail-fields")).to_contain_text(HOSTILE_QUEUE)
        row = page.locator(f'tr[data-job-id="{seeded["xss"]}"]')
        expect(row.locator("td").nth(2)).to_have_text(HOSTILE_QUEUE)
        flaky_row = page.locator(f'tr[data-job-id="{seeded["flaky"]}"]')
        expect(flaky_row.locator("td").nth(2)).to_have_text("default")
        hostile = page.locator("#queues tr").filter(has_text=HOSTILE_QUEUE)
        expect(hostile).to_have_count(1)
        expect(hostile.locator("td").nth(2)).to_have_text("1")  # pending

        # The queues panel: counts, and each type's limits as the workers stored them.
        default = page.locator('#queues tr[data-queue="default"]')
        cells = [counts[s] for s in ("pending", "processing", "completed", "failed")]
        cells[0] -= 1  # the xss job is in the hostile queue
        for index, value in enumerate(cells, start=2):
            expect(default.locator("td").nth(index)).to_have_text(str(value))
        reports = page.locator('#queues tr[data-queue="reports"]')
        expect(reports).to_contain_text("report at most 2 at once, 30/minute")
        expect(reports).to_contain_text(f"{HOSTILE_TYPE} no limits")
        assert page.locator("#queues script, #queues img, #jobs script").count() == 0

        # Pause a queue from the page: the store has it paused; resume it the same way.
        expect(reports.locator('[data-testid="queue-state"]')).to_have_text("running")
        reports.locator('[data-testid="pause-queue"]').click()
        expect(reports.locator('[data-testid="queue-state"]')).to_have_text("paused")
        assert _paused_in_store(service) == {"reports"}
        reports.locator('[data-testid="resume-queue"]').click()
        expect(reports.locator('[data-testid="queue-state"]')).to_have_text("running")
        assert _paused_in_store(service) == set()

        # Filter the jobs by queue: by name in the form, or by a click in the panel.
        page.locator("#filter-queue").fill("default")
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#jobs tr")).to_have_count(6)
        reports.locator("button.link").click()
        expect(page.locator("#jobs-empty")).to_be_visible()
        expect(page.locator("#filter-queue")).to_have_value("reports")
        page.locator("#filter-queue").fill("")
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#jobs tr")).to_have_count(7)
        assert page.evaluate("typeof window.__pwned") == "undefined"

        # Retry the failed job from the page: pending (the blocker holds the only slot),
        # then completed once the blocker is released.
        with _api(service) as client:
            blocker = client.post("/jobs", json={"type": "blocker"}).json()["data"]["id"]
        _wait_api(service, blocker, "processing")
        _select(page, seeded["flaky"])
        expect(page.locator("#detail-status")).to_have_text("failed")
        expect(page.locator("#detail-error")).to_contain_text("first run fails on purpose")
        expect(page.locator("#detail-traceback")).to_contain_text("Traceback")
        expect(page.locator("#detail-history tr")).to_have_count(1)
        page.locator('[data-testid="retry"]').click()
        expect(page.locator("#detail-status")).to_have_text("pending")
        expect(page.locator("#count-failed")).to_have_text("0")
        service.release.touch()
        expect(page.locator("#detail-status")).to_have_text("completed", timeout=20_000)
        expect(page.locator("#detail-result")).to_contain_text('"runs": 2')
        expect(page.locator("#detail-history tr")).to_have_count(2)  # history is kept
        expect(page.locator("#count-completed")).to_have_text("5")  # + blocker, + retried

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []

        # A fresh tab without the token asks for it, then works with it.
        browser = page.context.browser
        assert browser is not None
        other = browser.new_page()  # a context of its own: nothing stored
        other.goto(f"{service.url}/queue")
        expect(other.locator("#login")).to_be_visible()
        other.locator("#token-input").fill(TOKEN)
        other.locator("#login button[type=submit]").click()
        expect(other.locator("#count-completed")).to_have_text("5")
        expect(other.locator("#login")).to_be_hidden()
