"""``noormme-queue jobs show`` prints a job's timeline (80 columns, or JSON with --json), and
``jobs cancel`` / ``jobs retry`` are recorded as the command line's, on both backends."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.core.job import Attempt, AttemptOutcome, to_datetime
from noormme_queue.store import Failed

from ..pg import fresh_schema
from .conftest import cli

MARKUP = "[bold red]not markup[/] <b>nor html</b> " + "word " * 30


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    with fresh_schema() as pg_url:
        yield pg_url


def failed_job(db_url: str) -> str:
    """A job that ran once on worker "w-7" and failed for good, with a long error that looks
    like markup (written through the store: no worker runs here)."""

    async def make() -> str:
        qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
        job_id = await qm.add_job("explode", {}, max_attempts=1)
        now = time.time()
        claim = await qm.store.claim(["explode"], 1, now=now, lease_until=now + 30, worker_id="w-7")
        at = to_datetime(now)
        assert at is not None
        error = f"ValueError: {MARKUP}"
        attempt = Attempt(
            1, AttemptOutcome.FAILED, at, at, "w-7", error, None, "builtins.ValueError"
        )
        assert await qm.store.settle([Failed(job_id, claim.token, attempt, None)], now=now)
        await qm.store.close()
        return job_id

    return asyncio.run(make())


def test_jobs_show_prints_the_timeline_and_cancel_retry_are_the_clis(
    env: dict[str, str], url: str
) -> None:
    env = env | {"QUEUE_DATABASE_URL": url}
    job_id = failed_job(url)
    assert cli(env, "jobs", "retry", job_id).returncode == 0
    assert cli(env, "jobs", "cancel", job_id).returncode == 0

    shown = cli(env, "jobs", "show", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    assert [(e["kind"], e["worker"], e["by"], e["attempt"]) for e in events] == [
        ("enqueued", None, "python", None),
        ("claimed", "w-7", None, 1),
        ("failed", "w-7", None, 1),
        ("retried", None, "cli", None),
        ("cancelled", None, "cli", None),
    ]

    text = cli(env, "jobs", "show", job_id)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    timeline = lines[lines.index("timeline") + 1 :]
    kinds = [line.split()[2] for line in timeline if line[2:4] == "20"]
    assert kinds == ["enqueued", "claimed", "failed", "retried", "cancelled"]
    assert any("claimed" in line and "on w-7, attempt 1" in line for line in timeline)
    assert timeline[-1].endswith("by cli") and "retried" in timeline[-2]
    error = " ".join(line.strip() for line in timeline if not line[2:4] == "20")
    assert "[bold red]not markup[/] <b>nor html</b>" in error  # as written, not styled
    assert all(cell_len(line) <= 80 for line in lines), [x for x in lines if cell_len(x) > 80]


def test_a_job_without_events_says_so(env: dict[str, str], db_url: str) -> None:
    async def make() -> str:
        qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
        job_id = await qm.add_job("echo", {})
        await qm.store.close()
        return job_id

    job_id = asyncio.run(make())
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:  # a job from before timelines
        db.execute("UPDATE noormme_jobs SET events = '[]' WHERE id = ?", (job_id,))
    db.close()
    shown = cli(env, "jobs", "show", job_id)
    assert shown.stdout.rstrip().endswith("timeline\n  (no events)")
