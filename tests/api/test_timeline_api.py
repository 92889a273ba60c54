"""``GET /api/queue/jobs/{id}/events``: a job's timeline over HTTP, and every change a request
makes recorded as the API's (or the dashboard's, when it says so)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from noormme_queue import QueueConfig, QueueManager, UnrecoverableError
from noormme_queue.api import create_app

from ..pg import fresh_schema
from ..waiting import wait_for
from .conftest import AUTH, TOKEN, assert_error, enqueue, finished, job_status


def leaky(job: object) -> None:
    raise UnrecoverableError("could not reach https://bot:hunter2@example.com/hook")


def events(client: TestClient, job_id: str, **params: int) -> list[dict[str, object]]:
    response = client.get(f"/api/queue/jobs/{job_id}/events", params=params)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["job_id"] == job_id
    return list(data["events"])


def test_a_job_that_failed_shows_how_it_got_there(
    client: TestClient, manager: QueueManager
) -> None:
    job_id = finished(client, "boom", "failed", max_attempts=1)
    got = events(client, job_id)
    assert [(e["kind"], e["by"], e["attempt"]) for e in got] == [
        ("enqueued", "api", None),
        ("claimed", None, 1),
        ("failed", None, 1),
    ]
    worker = manager.get_status().worker_id
    assert [e["worker"] for e in got] == [None, worker, worker]
    assert got[2]["detail"] == {
        "error_type": "noormme_queue.core.signals.UnrecoverableError",
        "error": "UnrecoverableError: boom: this job always fails",
    }
    assert set(got[0]) == {"seq", "at", "kind", "worker", "by", "attempt", "detail"}
    assert str(got[0]["at"]).endswith("Z")  # UTC, as every time the API shows
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)  # type: ignore[type-var]


def test_cancel_is_the_apis_and_the_dashboard_says_who_it_is(client: TestClient) -> None:
    job_id = enqueue(client, "ok", {}, delay=3600)
    assert client.delete(f"/api/queue/jobs/{job_id}").status_code == 200
    dashboard = {"X-Queue-Client": "dashboard"}
    assert client.post(f"/api/queue/jobs/{job_id}/retry", headers=dashboard).status_code == 200
    wait_for(lambda: job_status(client, job_id) == "completed", what="the retried job to run")
    assert [(e["kind"], e["by"]) for e in events(client, job_id)] == [
        ("enqueued", "api"),
        ("cancelled", "api"),
        ("retried", "dashboard"),
        ("claimed", None),
        ("completed", None),
    ]
    assert [e["kind"] for e in events(client, job_id, limit=2)] == ["enqueued", "cancelled"]
    other = enqueue(client, "ok", {}, delay=3600)
    somebody = {"X-Queue-Client": "somebody"}
    assert client.delete(f"/api/queue/jobs/{other}", headers=somebody).status_code == 200
    assert events(client, other)[-1]["by"] == "api"  # any other client is the API


def test_secrets_in_an_error_are_masked(client: TestClient, manager: QueueManager) -> None:
    manager.register_handler("leaky", leaky)
    job_id = finished(client, "leaky", "failed", max_attempts=1)
    (failed,) = [e for e in events(client, job_id) if e["kind"] == "failed"]
    assert failed["detail"]["error"] == (  # type: ignore[index]
        "UnrecoverableError: could not reach https://bot:***@example.com/hook"
    )
    assert (
        manager.sync.get_job_events(job_id)[-1].detail["error"].endswith("hunter2@example.com/hook")
    )


def test_an_unknown_job_is_404_and_a_bad_limit_422(client: TestClient) -> None:
    assert_error(client.get("/api/queue/jobs/job_nope/events"), 404, "not_found")
    job_id = enqueue(client, "ok", {}, delay=3600)
    assert_error(client.get(f"/api/queue/jobs/{job_id}/events?limit=0"), 422, "invalid_input")


def test_the_route_and_its_model_are_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    route = spec["paths"]["/api/queue/jobs/{job_id}/events"]["get"]
    assert {"200", "404", "422"} <= set(route["responses"])
    event = spec["components"]["schemas"]["JobEventOut"]
    assert set(event["properties"]) == {"seq", "at", "kind", "worker", "by", "attempt", "detail"}
    kinds = spec["components"]["schemas"]["EventKind"]["enum"]
    assert "lease_expired" in kinds and "retry_scheduled" in kinds


def test_cancel_over_rest_is_the_apis_on_postgresql_too() -> None:
    with fresh_schema() as url:
        config = QueueConfig(database_url=url, interval=30.0, cleanup_interval=0, api_token=TOKEN)
        qm = QueueManager(config, builtins=False)
        qm.register_handler("ok", lambda job: "ok")
        with TestClient(create_app(qm), headers=AUTH) as client:
            job_id = enqueue(client, "ok", {}, delay=3600)
            assert client.delete(f"/api/queue/jobs/{job_id}").status_code == 200
            assert [(e["kind"], e["by"]) for e in events(client, job_id)] == [
                ("enqueued", "api"),
                ("cancelled", "api"),
            ]
