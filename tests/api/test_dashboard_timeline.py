"""The job timeline in the dashboard, in a real browser (Debian's chromium via Playwright)
against a live ``serve``: a job that failed once with an error message that is markup, then
completed, shows each step with the message as inert text; cancel and retry from the page are
recorded as the dashboard's; no console errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from noormme_queue import QueueConfig, QueueManager

from ..waiting import wait_for
from .test_dashboard_browser import ROOT, _free_port, _wait_healthy, dashboard_page
from .timeline_app import HOSTILE_ERROR

TOKEN = "timeline-browser-token-51c2"


@dataclass
class Served:
    url: str
    hostile: str
    parked: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = QueueConfig(database_url=f"sqlite:///{tmp_path / 'queue.db'}", cleanup_interval=0)
    qm = QueueManager(config, builtins=False)
    try:
        retry = {"max_retries": 1, "base_delay": 0.05, "jitter": 0.0}
        hostile = qm.sync.add_job("hostile", {}, retry_policy=retry)
        parked = qm.sync.add_job("parked", {"note": "no handler anywhere"})
    finally:
        qm.sync.close()
        qm.sync.stop()
    port = _free_port()
    env = os.environ | {
        "QUEUE_DATABASE_URL": config.database_url,
        "QUEUE_API_TOKEN": TOKEN,
        "QUEUE_CLEANUP_INTERVAL": "0",
    }
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "noormme_queue", "serve", "--app"]
    command += ["tests.api.timeline_app:create", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Served(url, hostile, parked)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0, log.read_text()


def _status(served: Served, job_id: str) -> str:
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = client.get(f"{served.url}/api/queue/jobs/{job_id}").json()
    return str(answer["data"]["status"])


def _kinds(page: Page) -> list[str]:
    items = page.locator("#detail-timeline li")
    return [str(items.nth(i).get_attribute("data-kind")) for i in range(items.count())]


def test_the_timeline_shows_each_step_and_markup_as_text(served: Served) -> None:
    wait_for(lambda: _status(served, served.hostile) == "completed", 30, "the retried job")
    with dashboard_page(served.url, TOKEN) as (page, problems):
        page.locator(f'tr[data-job-id="{served.hostile}"]').click()
        timeline = page.locator("#detail-timeline")
        expect(timeline.locator("li")).to_have_count(6)
        assert _kinds(page) == [
            "enqueued",
            "claimed",
            "failed",
            "retry_scheduled",
            "claimed",
            "completed",
        ]
        expect(timeline.locator("li").nth(0)).to_contain_text("by python")
        failed = timeline.locator('li[data-kind="failed"]')
        expect(failed).to_contain_text(f"ValueError: {HOSTILE_ERROR}")  # as text
        expect(failed).to_contain_text("attempt 1")
        expect(timeline.locator('li[data-kind="completed"]')).to_contain_text("attempt 2")
        assert timeline.locator("script, img").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"

        # Cancel and retry from the page: the timeline says the dashboard did it.
        page.locator(f'tr[data-job-id="{served.parked}"]').click()
        expect(page.locator("#detail-id")).to_have_text(served.parked)
        page.locator('[data-testid="cancel"]').click()
        expect(page.locator("#detail-status")).to_have_text("cancelled")
        last = timeline.locator("li").last
        expect(last).to_have_attribute("data-kind", "cancelled")
        expect(last).to_contain_text("by dashboard")
        page.locator('[data-testid="retry"]').click()
        expect(timeline.locator("li")).to_have_count(3)
        expect(last).to_have_attribute("data-kind", "retried")
        expect(last).to_contain_text("by dashboard")
        assert _kinds(page) == ["enqueued", "cancelled", "retried"]

        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []
