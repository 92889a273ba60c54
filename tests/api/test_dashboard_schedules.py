"""The dashboard's schedules panel in a real browser (Debian's chromium via Playwright)
against a live ``serve``: next runs and the last outcome shown, "Run now", pause and resume
from the page, and a schedule whose name and payload are HTML shown as text, never run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from noormme_queue import QueueConfig, QueueManager

from .test_dashboard_browser import (
    ARTIFACTS,
    ROOT,
    TOKEN,
    _free_port,
    _wait_healthy,
    dashboard_page,
)

XSS_NAME = '<img src=x onerror="window.__pwned = 3">'


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, QueueConfig]]:
    config = QueueConfig(database_url=f"sqlite:///{tmp_path / 'queue.db'}", cleanup_interval=0)
    qm = QueueManager(config, builtins=False)
    try:  # written before the service starts, straight into its database
        qm.sync.schedule("nightly", "ok", {"kind": "daily"}, cron="0 3 * * *",
                         timezone="Europe/Paris")  # fmt: skip
        qm.sync.schedule(XSS_NAME, "ok", {"note": "<script>window.__pwned = 4</script>"},
                         cron="0 0 1 1 *")  # fmt: skip
    finally:
        qm.sync.close()
    port = _free_port()
    env = os.environ | {
        "QUEUE_DATABASE_URL": config.database_url,
        "QUEUE_API_TOKEN": TOKEN,
        "QUEUE_CLEANUP_INTERVAL": "0",
        "DASHBOARD_TEST_RELEASE": str(tmp_path / "release"),
    }
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "noormme_queue", "serve", "--app"]
    command += ["tests.api.dashboard_app:create", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url, config
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0, log.read_text()


def _schedule(url: str, name: str) -> dict[str, object]:
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        listed = client.get(f"{url}/api/queue/schedules").json()["data"]
    (found,) = [s for s in listed if s["name"] == name]
    return dict(found)


def test_the_schedules_panel(service: tuple[str, QueueConfig]) -> None:
    url, _ = service
    nightly = _schedule(url, "nightly")
    with dashboard_page(url, TOKEN) as (page, problems):
        rows = page.locator("#schedules tr")
        expect(rows).to_have_count(2)
        row = page.locator('#schedules tr[data-schedule="nightly"]')
        expect(row).to_contain_text("0 3 * * * (Europe/Paris)")
        # The next run, as the browser shows the API's time, and the runs after it.
        next_cell = row.locator('[data-testid="schedule-next"]')
        shown = page.evaluate("iso => new Date(iso).toLocaleString()", str(nightly["next_run_at"]))
        expect(next_cell).to_have_text(shown)
        assert (next_cell.get_attribute("title") or "").startswith("then ")
        expect(row.locator('[data-testid="schedule-outcome"]')).to_have_text("—")

        # A name and payload made of HTML are text on the page, and never run.
        expect(rows.first).to_contain_text(XSS_NAME)  # "<" sorts before "n"
        assert page.locator("#schedules img, #schedules script").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"

        # Run now: a job linked to the schedule; the panel shows its outcome.
        row.locator('[data-testid="schedule-run"]').click()
        expect(row.locator('[data-testid="schedule-outcome"]')).to_have_text(
            "completed", timeout=20_000
        )
        done = _schedule(url, "nightly")
        assert done["last_status"] == "completed" and done["last_run_at"] is not None
        assert done["next_run_at"] == nightly["next_run_at"]  # its ticks go on

        # Pause and resume from the page; every worker obeys the stored state.
        row.locator('[data-testid="schedule-toggle"]').click()
        expect(row.locator('[data-testid="schedule-next"]')).to_have_text("paused")
        expect(row.locator('[data-testid="schedule-toggle"]')).to_have_text("Resume")
        assert _schedule(url, "nightly")["paused"] is True
        row.locator('[data-testid="schedule-toggle"]').click()
        expect(row.locator('[data-testid="schedule-toggle"]')).to_have_text("Pause")
        resumed = _schedule(url, "nightly")
        assert resumed["paused"] is False
        next_run = datetime.fromisoformat(str(resumed["next_run_at"]))
        assert next_run.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") == "03:00"

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-schedules.png"), full_page=True)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []
