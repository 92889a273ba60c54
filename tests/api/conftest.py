"""A real manager on a temp SQLite file behind the real app, driven by Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from noormme_queue import Job, QueueConfig, QueueManager, UnrecoverableError
from noormme_queue.api import create_app

from ..waiting import wait_for

TOKEN = "test-token-5f1c0e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def ok(job: Job) -> dict[str, Any]:
    return {"echo": job.payload, "access_token": "result-secret"}


def boom(job: Job) -> None:
    raise UnrecoverableError("boom: this job always fails")


@pytest.fixture
def api_config(tmp_path: Path) -> QueueConfig:
    return QueueConfig(
        database_url=f"sqlite:///{tmp_path / 'queue.db'}",
        interval=30.0,
        cleanup_interval=0,
        api_token=TOKEN,
    )


@pytest.fixture
def manager(api_config: QueueConfig) -> QueueManager:
    qm = QueueManager(api_config)
    qm.register_handler("ok", ok)
    qm.register_handler("boom", boom)
    return qm


@pytest.fixture
def client(manager: QueueManager) -> Iterator[TestClient]:
    # The lifespan starts the manager on the client's loop and stops it on exit.
    with TestClient(create_app(manager), headers=AUTH) as test_client:
        yield test_client


def job_status(client: TestClient, job_id: str) -> str:
    return str(client.get(f"/api/queue/jobs/{job_id}").json()["data"]["status"])


def enqueue(client: TestClient, job_type: str, payload: Any = None, **options: Any) -> str:
    response = client.post(
        "/api/queue/jobs", json={"type": job_type, "payload": payload, "options": options}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def finished(client: TestClient, job_type: str, status: str, **options: Any) -> str:
    job_id = enqueue(client, job_type, {}, **options)
    wait_for(lambda: job_status(client, job_id) == status, what=f"{job_id} to be {status}")
    return job_id


def assert_error(response: Any, status: int, error: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert body["field"] == field, body
