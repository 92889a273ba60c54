"""The schedule routes: list, create or update (declarative), delete, pause, resume, run now;
behind the token; bad input is 422 naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from noormme_queue import QueueManager

from ..waiting import wait_for
from .conftest import assert_error, job_status

BASE = "/api/queue/schedules"


def put(client: TestClient, name: str, **body: Any) -> Any:
    return client.put(f"{BASE}/{name}", json=body)


def test_create_list_update_and_delete(client: TestClient) -> None:
    created = put(
        client,
        "nightly",
        type="ok",
        payload={"kind": "daily", "api_key": "s3cret"},
        cron="0 3 * * *",
        timezone="Europe/Paris",
        options={"priority": 5, "maxAttempts": 2},
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["name"] == "nightly" and data["job_type"] == "ok"
    assert data["description"] == "0 3 * * * (Europe/Paris)" and data["paused"] is False
    assert data["payload"] == {"kind": "daily", "api_key": "***"}  # secrets masked
    assert data["options"]["priority"] == 5 and data["options"]["max_attempts"] == 2
    assert len(data["upcoming"]) == 3 and data["upcoming"][0] == data["next_run_at"]
    assert data["next_run_at"].endswith("Z") and data["last_status"] is None

    again = put(client, "nightly", type="ok", cron="0 3 * * *", timezone="Europe/Paris")
    assert again.status_code == 200, again.text  # updated in place
    assert again.json()["data"]["next_run_at"] == data["next_run_at"]
    put(client, "beat", job_type="ok", every=60)
    listed = client.get(BASE).json()["data"]
    assert [s["name"] for s in listed] == ["beat", "nightly"]
    assert listed[0]["every"] == 60 and listed[0]["description"] == "every 1m"
    assert client.get(f"{BASE}/beat").json()["data"]["every"] == 60

    deleted = client.delete(f"{BASE}/beat")
    assert deleted.status_code == 200 and deleted.json()["data"]["name"] == "beat"
    assert_error(client.delete(f"{BASE}/beat"), 404, "not_found")
    assert_error(client.get(f"{BASE}/beat"), 404, "not_found")


def test_pause_resume_and_run_now(client: TestClient) -> None:
    put(
        client,
        "hourly/report",  # a "/" in the name
        type="ok",
        payload={"n": 1},
        every=3600,
        options={"queue": "reports", "limitKey": "tenant-1"},
    )
    path = f"{BASE}/hourly%2Freport"
    paused = client.post(f"{path}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["data"]["paused"] is True and paused.json()["data"]["upcoming"] == []
    ran = client.post(f"{path}/run")
    assert ran.status_code == 201, ran.text
    job = ran.json()["data"]
    assert job["schedule"] == "hourly/report" and job["payload"] == {"n": 1}
    assert (job["queue"], job["limit_key"]) == ("reports", "tenant-1")
    wait_for(lambda: job_status(client, job["id"]) == "completed", what="the job to run")
    shown = client.get(path).json()["data"]
    assert shown["last_job_id"] == job["id"] and shown["last_status"] == "completed"
    resumed = client.post(f"{path}/resume")
    assert resumed.status_code == 200 and resumed.json()["data"]["paused"] is False
    for action in ("pause", "resume", "run"):
        assert_error(client.post(f"{BASE}/missing/{action}"), 404, "not_found")


def test_bad_input_names_the_field_and_stores_nothing(client: TestClient) -> None:
    cases = [
        ({"type": "ok", "cron": "61 * * * *"}, "cron"),
        ({"type": "ok", "cron": "0 3 * * *", "timezone": "Mars/Base"}, "timezone"),
        ({"type": "ok", "cron": "0 3 * * *", "every": 60}, "every"),
        ({"type": "ok"}, "cron"),
        ({"type": "ok", "every": 0}, "every"),
        ({"type": "ok", "every": 60, "missed": "often"}, "missed"),
        ({"type": "ok", "every": 60, "options": {"priority": "high"}}, "options.priority"),
        ({"type": "ok", "every": 60, "options": {"delay": 5}}, "options.delay"),
        ({"type": "ok", "every": 60, "options": {"delayMs": 5}}, "options.delayMs"),
        ({"type": "ok", "every": 60, "options": {"queue": "no spaces"}}, "options.queue"),
        ({"type": "ok", "every": 60, "options": {"nope": 1}}, "options.nope"),
        ({"type": "ok", "every": 60, "payload": "x" * 1_100_000}, "payload"),
        ({"type": "nobody-handles-this", "every": 60}, "type"),
        ({"every": 60}, "type"),
    ]
    for body, field in cases:
        assert_error(
            client.put(f"{BASE}/bad", json=body),
            422,
            "invalid_input" if field != "payload" else "invalid_payload",
            field,
        )
    assert_error(
        client.put(f"{BASE}/%20padded", json={"type": "ok", "every": 60}),
        422,
        "invalid_input",
        "name",
    )
    assert client.get(BASE).json()["data"] == []


def test_a_body_over_the_cap_is_refused_before_it_is_read(client: TestClient) -> None:
    big = client.put(f"{BASE}/big", content=b"[" * 2_000_000)
    assert_error(big, 413, "too_large", "body")
    assert client.get(BASE).json()["data"] == []


def test_a_type_with_a_handler_but_not_allowed_is_forbidden(manager: QueueManager) -> None:
    from noormme_queue.api import create_app

    from .conftest import AUTH

    with TestClient(create_app(manager, allowed_types={"boom"}), headers=AUTH) as client:
        assert_error(put(client, "x", type="ok", every=60), 403, "forbidden", "type")


def test_every_route_needs_the_token(client: TestClient) -> None:
    put(client, "beat", type="ok", every=60)
    anonymous = TestClient(client.app)
    for method, path in [
        ("GET", BASE),
        ("GET", f"{BASE}/beat"),
        ("PUT", f"{BASE}/beat"),
        ("DELETE", f"{BASE}/beat"),
        ("POST", f"{BASE}/beat/pause"),
        ("POST", f"{BASE}/beat/resume"),
        ("POST", f"{BASE}/beat/run"),
    ]:
        answer = anonymous.request(method, path, json={"type": "ok", "every": 1})
        assert_error(answer, 401, "unauthorized")
    assert client.get(f"{BASE}/beat").json()["data"]["paused"] is False
