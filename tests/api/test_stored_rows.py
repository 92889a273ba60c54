"""Nothing that was accepted can break a listing: rows an older version wrote (nested deeper
than enqueue now allows, or holding lone surrogates) are shown, bounded; such input is now
refused at enqueue."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fastapi.testclient import TestClient

from noormme_queue import QueueConfig
from noormme_queue.api.redact import MAX_SHOWN_DEPTH, TOO_DEEP
from noormme_queue.engine.enqueue import MAX_PAYLOAD_DEPTH

from .conftest import assert_error

# store/rows.py reads a row in this order
COLUMNS = (
    "id, type, payload, status, priority, attempts, max_attempts, run_at, created_at, "
    "started_at, finished_at, result, error, history, retry_policy, unique_key, timeout, "
    "worker_id, progress"
)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {"level": value} if level % 2 else [value]
    return value


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, dict | list):
        value = value["level"] if isinstance(value, dict) else value[0]
        depth += 1
    return depth


def _write_row(config: QueueConfig, job_id: str, payload: str, result: str | None) -> None:
    path = config.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(
            f"INSERT INTO noormme_jobs ({COLUMNS}) VALUES "
            "(?, 'ok', ?, 'failed', 0, 1, 1, 1.7e9, 1.7e9, 1.7e9, 1.7e9, ?, 'old', '[]', "
            "NULL, NULL, NULL, NULL, ?)",
            (job_id, payload, result, result),
        )
    db.close()


def test_the_shown_depth_is_the_enqueue_limit() -> None:
    assert MAX_SHOWN_DEPTH == MAX_PAYLOAD_DEPTH


def test_a_deep_row_written_by_an_older_version_lists(
    client: TestClient, api_config: QueueConfig
) -> None:
    deep = json.dumps(_nested(900))
    _write_row(api_config, "job_0000000000000000deep", deep, deep)
    listing = client.get("/api/queue/jobs")
    assert listing.status_code == 200, listing.text
    (job,) = listing.json()["data"]["jobs"]
    for key in ("payload", "result", "progress"):
        assert _depth(job[key]) == MAX_SHOWN_DEPTH, key
        assert TOO_DEEP in json.dumps(job[key])
    one = client.get("/api/queue/jobs/job_0000000000000000deep")
    assert one.status_code == 200, one.text
    assert one.json()["data"]["payload"] == job["payload"]


def test_a_row_with_a_lone_surrogate_lists(client: TestClient, api_config: QueueConfig) -> None:
    _write_row(api_config, "job_000000000000surrogate", '{"name": "a\\ud800b"}', None)
    listing = client.get("/api/queue/jobs")
    assert listing.status_code == 200, listing.text
    assert listing.json()["data"]["jobs"][0]["payload"] == {"name": "a\ufffdb"}


def test_a_payload_as_deep_as_the_limit_is_shown_whole(client: TestClient) -> None:
    payload = _nested(MAX_PAYLOAD_DEPTH)
    created = client.post("/api/queue/jobs", json={"type": "ok", "payload": payload})
    assert created.status_code == 201, created.text
    assert created.json()["data"]["payload"] == payload


def test_a_payload_nested_300_deep_is_refused(client: TestClient) -> None:
    response = client.post("/api/queue/jobs", json={"type": "ok", "payload": _nested(300)})
    assert_error(response, 422, "invalid_payload", "payload")
    assert client.get("/api/queue/jobs").json()["data"]["jobs"] == []


def test_a_lone_surrogate_is_refused(client: TestClient) -> None:
    body = b'{"type": "ok", "payload": {"name": "a\\ud800b"}}'
    response = client.post(
        "/api/queue/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_payload", "payload")
    assert client.get("/api/queue/jobs").json()["data"]["jobs"] == []


def test_a_row_with_a_time_no_datetime_holds_lists_as_failed(
    client: TestClient, api_config: QueueConfig
) -> None:
    path = api_config.database_url.removeprefix("sqlite:///")
    client.get("/api/queue/stats")  # the schema exists
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO noormme_jobs (id, type, payload, status, max_attempts, run_at, "
            "created_at, history) VALUES ('job_00000000000000year0', 'ok', '{}', 'pending', 3, "
            "-62167219200.0, 1.7e9, '[]')"
        )
    db.close()
    listing = client.get("/api/queue/jobs")
    assert listing.status_code == 200, listing.text
    (job,) = listing.json()["data"]["jobs"]
    assert job["id"] == "job_00000000000000year0" and job["status"] == "failed"
    assert "year 0 is out of range" in job["error"]
    assert client.get("/api/queue/jobs/job_00000000000000year0").status_code == 200
