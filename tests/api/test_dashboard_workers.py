"""The dashboard's workers panel and per-queue charts in a real browser (Debian's chromium
via Playwright) against a live ``serve``: the serve process's own worker listed from its
heartbeat with the jobs it runs, a worker row whose host, queues and types are markup (as
another writer could leave it) shown as text and never run, the throughput and failures of
each queue over the last hour drawn as bars and its wait as dots, and no console error."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from noormme_queue import QueueConfig, QueueManager

from ..waiting import wait_for
from .test_dashboard_browser import (
    ARTIFACTS,
    ROOT,
    TOKEN,
    _free_port,
    _wait_healthy,
    dashboard_page,
)

HOSTILE_HOST = "<script>window.__pwned = 5</script>"
HOSTILE_QUEUE = '<img src=x onerror="window.__pwned = 6">'
HOSTILE_TYPE = '<svg onload="window.__pwned = 7"></svg>'


def _plant(path: Path) -> None:
    """Rows another writer could leave: a live worker and a queue's minute, both markup."""
    now = time.time()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO noormme_workers (id, host, pid, queues, concurrency, types, jobs,"
            " started_at, heartbeat_at, expires_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            (
                "planted:1:abc",
                HOSTILE_HOST,
                1,
                json.dumps([HOSTILE_QUEUE]),
                3,
                json.dumps([HOSTILE_TYPE]),
                json.dumps([]),
                now - 60,
                now,
                now + 3600,
                now - 30,  # its clock 30 s ahead of the database's
            ),
        )
        db.execute(
            "INSERT INTO noormme_minutes (minute, queue, completed, failed, started, wait_sum,"
            " wait_max) VALUES (?, ?, 2, 1, 3, 4.5, 3.0)",
            (int(now // 60), HOSTILE_QUEUE),
        )
    db.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, QueueConfig]]:
    path = tmp_path / "queue.db"
    config = QueueConfig(database_url=f"sqlite:///{path}", cleanup_interval=0)
    qm = QueueManager(config, builtins=False)
    try:  # written before the service starts: three quick jobs, one that fails for good
        qm.sync.add_jobs([("ok", {"n": n}) for n in range(3)])
        qm.sync.add_job("flaky", {}, max_attempts=1)
    finally:
        qm.sync.close()
    _plant(path)
    port = _free_port()
    env = os.environ | {
        "QUEUE_DATABASE_URL": config.database_url,
        "QUEUE_API_TOKEN": TOKEN,
        "QUEUE_CONCURRENCY": "1",
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
        (tmp_path / "release").touch()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0, log.read_text()


def test_the_workers_panel_and_the_charts(service: tuple[str, QueueConfig]) -> None:
    url, _ = service
    api = httpx.Client(base_url=f"{url}/api/queue", headers={"Authorization": f"Bearer {TOKEN}"})
    with api:
        wait_for(
            lambda: api.get("/stats").json()["data"]["persistent"]["completed"] == 3,
            20,
            "the ok jobs to complete",
        )
        blocker = api.post("/jobs", json={"type": "blocker"}).json()["data"]["id"]

        def running_blocker() -> bool:
            found = api.get("/workers").json()["data"]
            return any(blocker in w["jobs"] for w in found)

        wait_for(running_blocker, 20, "the serve worker's heartbeat to name the blocker")
        (mine,) = [w for w in api.get("/workers").json()["data"] if w["id"] != "planted:1:abc"]

    with dashboard_page(url, TOKEN, height=1200) as (page, problems):
        # Both workers, the serve process's with the job it runs and the types it handles.
        rows = page.locator("#workers tr")
        expect(rows).to_have_count(2)
        own = page.locator(f'#workers tr[data-worker="{mine["id"]}"]')
        expect(own.locator('[data-testid="worker-running"]')).to_have_text("1/1")
        expect(own).to_contain_text(blocker)
        expect(own).to_contain_text("blocker, flaky, ok")
        expect(own.locator("td").nth(2)).to_have_text(str(mine["pid"]))

        # Markup in a worker's row is text, never run.
        planted = page.locator('#workers tr[data-worker="planted:1:abc"]')
        expect(planted.locator("td").nth(1)).to_have_text(HOSTILE_HOST)
        expect(planted.locator("td").nth(4)).to_have_text(HOSTILE_QUEUE)
        expect(planted.locator("td").nth(5)).to_have_text(HOSTILE_TYPE)
        expect(planted.locator("td").nth(9)).to_have_text("+30.00 s")
        assert page.locator("#workers script, #workers img, #workers svg").count() == 0

        # The charts: the default queue's completions and failure as bars, its waits as
        # dots; the planted queue's name as text.
        default = page.locator('#activity tr[data-activity-queue="default"]')
        expect(default.locator("rect.bar.completed").first).to_be_visible()
        expect(default.locator("rect.bar.failed")).to_have_count(1)
        expect(default.locator("circle.wait").first).to_be_attached()
        expect(default).to_contain_text("3 completed · 1 failed")
        hostile = page.locator("#activity tr").filter(has_text=HOSTILE_QUEUE)
        expect(hostile).to_have_count(1)
        expect(hostile).to_contain_text("3 started · mean wait 1.5 s · max 3.0 s")
        assert page.locator("#activity img, #activity script").count() == 0

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-workers.png"), full_page=True)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []
