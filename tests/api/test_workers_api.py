"""GET /workers and GET /activity: the live workers (this process's, from its heartbeat,
and another process's), each queue's minutes, behind the token, a bad window refused."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi.testclient import TestClient

from noormme_queue import QueueConfig, QueueManager

from ..waiting import wait_for
from .conftest import assert_error, finished


def test_workers_lists_every_live_worker(
    client: TestClient, manager: QueueManager, api_config: QueueConfig
) -> None:
    def listed() -> list[dict[str, object]]:
        response = client.get("/api/queue/workers")
        assert response.status_code == 200, response.text
        data: list[dict[str, object]] = response.json()["data"]
        return data

    wait_for(lambda: bool(listed()), 10, "this process's heartbeat")
    other = QueueManager(api_config, builtins=False, background=False, worker_id="other:1:x")
    other.register_handler("report", lambda job: None)
    asyncio.run(other.heartbeat.run_once(other.clock.now()))
    asyncio.run(other.store.close())
    found = {str(w["id"]): w for w in listed()}
    assert list(found) == sorted(found)
    mine = found[manager.worker.worker_id]
    assert "ok" in mine["types"] and "boom" in mine["types"]  # type: ignore[operator]
    assert mine["queues"] is None and mine["concurrency"] == manager.config.concurrency
    assert isinstance(mine["jobs"], list)
    datetime.fromisoformat(str(mine["heartbeat_at"]))
    assert found["other:1:x"]["types"] == ["report"]
    assert abs(float(found["other:1:x"]["clock_skew"])) < 5  # type: ignore[arg-type]


def test_activity_per_queue_and_minute(client: TestClient) -> None:
    finished(client, "ok", "completed")
    finished(client, "boom", "failed", max_attempts=1)
    finished(client, "ok", "completed", queue="reports")
    response = client.get("/api/queue/activity", params={"window": 600})
    assert response.status_code == 200, response.text
    queues = {q["queue"]: q["points"] for q in response.json()["data"]}
    assert sorted(queues) == ["default", "reports"]
    assert len(queues["default"]) == 10
    total = {k: sum(p[k] for p in queues["default"]) for k in ("completed", "failed", "started")}
    assert total == {"completed": 1, "failed": 1, "started": 2}
    waits = [p["wait_avg"] for p in queues["default"] if p["started"]]
    assert waits and all(w >= 0 for w in waits)
    assert len(client.get("/api/queue/activity").json()["data"][0]["points"]) == 60  # an hour


def test_bad_windows_and_no_token_are_refused(client: TestClient) -> None:
    assert_error(client.get("/api/queue/activity", params={"window": 5}), 422, "invalid_input")
    assert_error(client.get("/api/queue/activity", params={"window": "x"}), 422, "invalid_input")
    for path in ("/api/queue/workers", "/api/queue/activity"):
        response = client.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, response.text
