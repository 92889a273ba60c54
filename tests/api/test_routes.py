"""The /api/queue endpoints: envelope, honest status codes, and the jobs really in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from noormme_queue import JobStatus, QueueConfig, QueueManager
from noormme_queue.api import create_app

from ..waiting import wait_for
from .conftest import AUTH, assert_error, enqueue, finished, job_status


def test_health_answers_without_a_token(client: TestClient) -> None:
    response = client.get("/api/queue/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"status": "ok", "started": True}}


def test_stats_has_persistent_counts_memory_queues_status_and_throughput(
    client: TestClient, manager: QueueManager
) -> None:
    finished(client, "ok", "completed")
    finished(client, "boom", "failed", max_attempts=1)
    enqueue(client, "ok", {}, delay=3600)
    response = client.get("/api/queue/stats")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["persistent"] == manager.sync.get_stats().to_dict()
    assert data["persistent"] == {
        "total": 3,
        "pending": 1,
        "processing": 0,
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert set(data["memory"]) >= {"api-calls", "image-processing", "batch-processing"}
    assert data["memory"]["api-calls"]["kind"] == "rate_limited"
    assert data["status"]["started"] is True
    assert {"ok", "boom", "email", "webhook"} <= set(data["status"]["registered_types"])
    assert len(data["throughput"]) == 30
    assert data["throughput"][-1]["completed"] == 1 and data["throughput"][-1]["failed"] == 1


def test_enqueue_answers_201_with_the_job_saved_as_asked(
    client: TestClient, manager: QueueManager
) -> None:
    response = client.post(
        "/api/queue/jobs",
        json={
            "type": "ok",
            "payload": {"n": 1},
            "options": {
                "priority": 7,
                "delay": 3600,
                "max_attempts": 5,
                "unique_key": "k-1",
                "timeout": 12.5,
                "retry_policy": {"max_retries": 4, "base_delay": 2.0},
            },
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    job = manager.sync.get_job(body["data"]["id"])
    assert job is not None and job.status is JobStatus.PENDING
    assert (job.payload, job.priority, job.max_attempts) == ({"n": 1}, 7, 5)
    assert job.unique_key == "k-1" and job.timeout == 12.5
    assert job.retry_policy is not None and job.retry_policy.base_delay == 2.0
    assert (job.run_at - job.created_at).total_seconds() == 3600
    assert body["data"]["priority"] == 7 and body["data"]["status"] == "pending"


def test_enqueue_accepts_the_specification_camel_case_options(
    client: TestClient, manager: QueueManager
) -> None:
    response = client.post(
        "/api/queue/jobs",
        json={
            "type": "ok",
            "payload": {},
            "options": {
                "priority": 5,
                "scheduledAt": "2031-05-01T12:00:00+02:00",
                "retryPolicy": {"maxRetries": 4, "baseDelay": 1500, "maxDelay": 60000},
                "uniqueKey": "camel",
            },
        },
    )
    assert response.status_code == 201, response.text
    job = manager.sync.get_job(response.json()["data"]["id"])
    assert job is not None
    assert job.run_at == datetime(2031, 5, 1, 10, 0, tzinfo=UTC)
    assert job.retry_policy is not None
    assert (job.retry_policy.base_delay, job.retry_policy.max_delay) == (1.5, 60.0)
    assert job.max_attempts == 5 and job.unique_key == "camel"

    delayed = client.post(
        "/api/queue/jobs",
        json={"type": "ok", "options": {"delayMs": 90_000, "maxAttempts": 2}},
    ).json()["data"]
    job = manager.sync.get_job(delayed["id"])
    assert job is not None and job.max_attempts == 2
    assert (job.run_at - job.created_at).total_seconds() == 90


def test_a_unique_key_enqueues_once(client: TestClient) -> None:
    first = enqueue(client, "ok", {}, delay=3600, unique_key="once")
    assert enqueue(client, "ok", {"other": 1}, delay=3600, unique_key="once") == first


def test_jobs_are_listed_newest_first_one_page_at_a_time(client: TestClient) -> None:
    ids = [enqueue(client, "ok", {"n": n}, delay=3600) for n in range(5)]
    failed = finished(client, "boom", "failed", max_attempts=1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2, "type": "ok"}
        if cursor:
            params["cursor"] = cursor
        data = client.get("/api/queue/jobs", params=params).json()["data"]
        seen += [j["id"] for j in data["jobs"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1] and pages == 3
    by_status = client.get("/api/queue/jobs", params={"status": "failed"}).json()["data"]
    assert [j["id"] for j in by_status["jobs"]] == [failed]
    assert by_status["next_cursor"] is None


def test_unknown_job_is_404_for_every_job_endpoint(client: TestClient) -> None:
    assert_error(client.get("/api/queue/jobs/job_nope"), 404, "not_found")
    assert_error(client.delete("/api/queue/jobs/job_nope"), 404, "not_found")
    assert_error(client.post("/api/queue/jobs/job_nope/retry"), 404, "not_found")


def test_cancel_a_pending_job_then_409_once_it_is_final(
    client: TestClient, manager: QueueManager
) -> None:
    job_id = enqueue(client, "ok", {}, delay=3600)
    response = client.delete(f"/api/queue/jobs/{job_id}")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    assert manager.sync.get_job(job_id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert_error(client.delete(f"/api/queue/jobs/{job_id}"), 409, "conflict")
    done = finished(client, "ok", "completed")
    assert_error(client.delete(f"/api/queue/jobs/{done}"), 409, "conflict")


def test_retry_a_failed_job_and_409_for_a_pending_one(
    client: TestClient, manager: QueueManager
) -> None:
    failed = finished(client, "boom", "failed", max_attempts=1)
    response = client.post(f"/api/queue/jobs/{failed}/retry")
    assert response.status_code == 200
    assert response.json()["data"]["status"] in ("pending", "processing", "failed")
    job = manager.sync.get_job(failed)
    assert job is not None and len(job.history) >= 1  # the history of the first run is kept
    pending = enqueue(client, "ok", {}, delay=3600)
    assert_error(client.post(f"/api/queue/jobs/{pending}/retry"), 409, "conflict")


def test_cleanup_removes_old_finished_jobs(client: TestClient, manager: QueueManager) -> None:
    done = finished(client, "ok", "completed")
    failed = finished(client, "boom", "failed", max_attempts=1)
    assert client.post("/api/queue/cleanup").json() == {"success": True, "data": {"removed": 0}}
    response = client.post("/api/queue/cleanup", json={"olderThanDays": 0})
    assert response.status_code == 200 and response.json()["data"] == {"removed": 1}
    assert manager.sync.get_job(done) is None
    assert manager.sync.get_job(failed) is not None  # failed jobs are the dead-letter record
    assert_error(
        client.post("/api/queue/cleanup", json={"older_than_days": -1}),
        422,
        "invalid_input",
        "older_than_days",
    )


def test_a_retried_job_runs_again(client: TestClient) -> None:
    cancelled = enqueue(client, "ok", {}, delay=3600)
    client.delete(f"/api/queue/jobs/{cancelled}")
    assert client.post(f"/api/queue/jobs/{cancelled}/retry").status_code == 200
    wait_for(lambda: job_status(client, cancelled) == "completed", what="the retried job")


def test_a_store_that_cannot_open_is_503(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    qm = QueueManager(
        QueueConfig(database_url=f"sqlite:///{blocker / 'queue.db'}", cleanup_interval=0),
        builtins=False,
    )
    # No lifespan (it would fail to start): the API meets the broken store on first use.
    test_client = TestClient(create_app(qm), headers=AUTH)
    assert_error(test_client.get("/api/queue/stats"), 503, "store_unavailable")
    assert_error(test_client.get("/api/queue/jobs"), 503, "store_unavailable")


def test_paths_and_methods_the_api_lacks_get_the_envelope(client: TestClient) -> None:
    assert_error(client.get("/api/queue/nothing-here"), 404, "not_found")
    assert_error(client.put("/api/queue/jobs"), 405, "method_not_allowed")
    assert client.get("/", follow_redirects=False).headers["location"] == "/queue"
