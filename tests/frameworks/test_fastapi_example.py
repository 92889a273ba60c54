"""examples/fastapi_app.py with Starlette's TestClient: the lifespan starts and stops the queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.fastapi_app import build_app
from fastapi.testclient import TestClient

from noormme_queue import JobStatus, QueueConfig, QueueManager

from ..waiting import wait_for


def test_lifespan_runs_the_worker_and_a_route_enqueues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    app = build_app(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0))
    qm: QueueManager = app.state.queue
    assert not qm.get_status().started
    with TestClient(app) as client:
        assert qm.get_status().started  # the lifespan started it
        response = client.post("/signup", json={"email": "ada@example.com", "name": "Ada"})
        assert response.status_code == 202
        job_id = response.json()["job_id"]

        def done() -> bool:
            job = qm.sync.get_job(job_id)
            return job is not None and job.status is JobStatus.COMPLETED

        wait_for(done, what="the welcome pack")
        assert qm.sync.get_job(job_id).result == {"pack": "welcome-ada.zip"}  # type: ignore[union-attr]
        # the built-in e-mail job ran too: the file transport wrote the message
        wait_for(lambda: any((tmp_path / "outbox").glob("*.eml")), what="the welcome mail")
        # the queue's API is mounted beside the app's routes
        listed = client.get("/api/queue/jobs", params={"type": "welcome-pack"}).json()
        assert [j["id"] for j in listed["data"]["jobs"]] == [job_id]
    assert not qm.get_status().started  # and stopped it
    assert qm.loop is None
