"""Built-in payloads refused at enqueue, through a real QueueManager on a temp SQLite file.

Each test looks into the database file itself afterwards: a refused job leaves no row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from noormme_queue import InvalidPayload, QueueConfig, QueueManager


def rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM noormme_jobs").fetchone()[0])
        except sqlite3.OperationalError:  # no schema yet: nothing was ever written
            return 0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


async def manager(db: Path, **config: Any) -> AsyncIterator[QueueManager]:
    qm = QueueManager(
        QueueConfig(database_url=f"sqlite:///{db}", interval=30.0, cleanup_interval=0, **config)
    )
    try:
        yield qm
    finally:
        await qm.stop(timeout=5)


@pytest.fixture
async def qm(db: Path) -> AsyncIterator[QueueManager]:
    async for value in manager(db):
        yield value


@pytest.fixture
async def qm_private(db: Path) -> AsyncIterator[QueueManager]:
    async for value in manager(db, webhook_allow_private=True):
        yield value


async def refused(qm: QueueManager, db: Path, job_type: str, payload: Any) -> InvalidPayload:
    with pytest.raises(InvalidPayload) as caught:
        await qm.add_job(job_type, payload)
    assert rows_in(db) == 0, "a refused job must leave no row"
    return caught.value


# -- webhook URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example\x00.com/x",  # ran three times, failing each, before
        "http://0177.0.0.1/hook",
        "http://①②⑦.0.0.1/hook",
        " https://hooks.example.com/x",
        "https://hooks.example.com/x\r\n",
        "https:///x",
        "ftp://hooks.example.com/x",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_a_malformed_webhook_url_is_refused_at_enqueue(
    db: Path, url: str, allow_private: bool
) -> None:
    async for qm in manager(db, webhook_allow_private=allow_private):
        error = await refused(qm, db, "webhook", {"url": url, "body": {"event": "x"}})
        assert error.field == "payload.url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_a_private_address_literal_is_refused_at_enqueue_unless_allowed(
    qm: QueueManager, db: Path, url: str
) -> None:
    error = await refused(qm, db, "webhook", {"url": url})
    assert error.field == "payload.url"
    assert "QUEUE_WEBHOOK_ALLOW_PRIVATE" in str(error)


async def test_private_literals_are_accepted_when_allowed(
    qm_private: QueueManager, db: Path
) -> None:
    job_id = await qm_private.add_job("webhook", {"url": "HTTP://127.0.0.1:8000/hook"})
    job = await qm_private.get_job(job_id)
    assert job is not None and job.payload["url"] == "http://127.0.0.1:8000/hook"
    assert rows_in(db) == 1


async def test_a_host_name_is_left_for_the_run_time_guard(qm: QueueManager, db: Path) -> None:
    # "localhost" resolves to loopback, but names are resolved only when the request is made.
    await qm.add_job("webhook", {"url": "http://localhost:8000/hook"})
    await qm.add_job("webhook", {"url": "https://hooks.example.com/x"})
    assert rows_in(db) == 2


# -- e-mail headers --------------------------------------------------------------------------


@pytest.mark.parametrize("job_type", ["email", "newsletter"])
@pytest.mark.parametrize(
    ("headers", "field", "named"),
    [
        ({"X\tCampaign": "7"}, "payload.headers", "'X\\tCampaign'"),
        ({"X-Camp\x00aign": "7"}, "payload.headers", "'X-Camp\\x00aign'"),
        ({"X-Kampagne-Größe": "7"}, "payload.headers", "'X-Kampagne-Größe'"),
        ({"X-Campaign": "spring\u2028Bcc: all@example.com"}, "payload.headers.X-Campaign", ""),
        ({"X-Campaign": "spring\x0bsale"}, "payload.headers.X-Campaign", ""),
        ({"X-Campaign": "spring\x0csale"}, "payload.headers.X-Campaign", ""),
        ({"X-Campaign": "spring\x85sale"}, "payload.headers.X-Campaign", ""),
    ],
)
async def test_a_bad_mail_header_is_refused_at_enqueue(
    qm: QueueManager, db: Path, job_type: str, headers: dict[str, str], field: str, named: str
) -> None:
    payload = {"to": ["a@example.com"], "subject": "Hi", "text": "x", "headers": headers}
    error = await refused(qm, db, job_type, payload)
    assert error.field == field
    assert named in str(error) and field in str(error)
