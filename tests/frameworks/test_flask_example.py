"""examples/flask_app.py with Flask's test client: views enqueue through qm.sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.flask_app import build_queue, create_app

from noormme_queue import JobStatus, QueueConfig, QueueManager

from ..waiting import wait_for


@pytest.fixture
def qm(tmp_path: Path) -> Iterator[QueueManager]:
    manager = build_queue(
        QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}", cleanup_interval=0)
    )
    yield manager
    manager.sync.close()


def test_a_view_enqueues_and_the_job_is_in_the_store(qm: QueueManager) -> None:
    client = create_app(qm).test_client()  # no worker: the job waits
    response = client.post("/orders/A-17/invoice", json={"lines": [{"price": 5}]})
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    job = qm.sync.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING
    assert job.payload == {"order": "A-17", "lines": [{"price": 5}]}
    # the unique key makes a double click harmless
    again = client.post("/orders/A-17/invoice", json={"lines": [{"price": 5}]})
    assert again.get_json()["job_id"] == job_id
    assert qm.sync.get_stats().total == 1
    assert client.get("/jobs/job_missing").status_code == 404


def test_with_a_worker_thread_the_job_runs(qm: QueueManager) -> None:
    client = create_app(qm, run_worker=True).test_client()
    job_id = client.post("/orders/B-2/invoice", json={"lines": [{"price": 3}, {"price": 4}]})
    job_id = job_id.get_json()["job_id"]
    wait_for(
        lambda: client.get(f"/jobs/{job_id}").get_json()["status"] == "completed",
        what="the invoice",
    )
    assert client.get(f"/jobs/{job_id}").get_json()["result"] == {"invoice": "B-2", "total": 7}
