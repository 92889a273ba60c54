"""Secrets in payloads and results are masked in every API answer, and kept in the store."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from noormme_queue import QueueManager
from noormme_queue.api.redact import MASK, redact

from .conftest import finished

WEBHOOK = {
    "url": "https://hooks.example.com/in",
    "headers": {
        "Authorization": "Bearer live-abc",
        "X-API-Key": "key-123",
        "Cookie": "session=s",
        "X-Request-Id": "visible",
    },
    "body": {"password": "hunter2", "items": [{"access_token": "t-1", "name": "visible"}]},
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
SECRETS = ("live-abc", "key-123", "session=s", "hunter2", "t-1", "MfKQ9r8GKYqrTwjU")


def _assert_masked(payload: dict[str, Any]) -> None:
    headers = payload["headers"]
    assert headers["Authorization"] == headers["X-API-Key"] == headers["Cookie"] == MASK
    assert headers["X-Request-Id"] == "visible"
    assert payload["body"]["password"] == MASK
    assert payload["body"]["items"] == [{"access_token": MASK, "name": "visible"}]
    assert payload["secret"] == MASK


def test_webhook_secrets_are_masked_in_every_answer(
    client: TestClient, manager: QueueManager
) -> None:
    # Delayed an hour: the test never sends it anywhere.
    created = client.post(
        "/api/queue/jobs",
        json={"type": "webhook", "payload": WEBHOOK, "options": {"delay": 3600}},
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["data"]["id"]
    answers = [
        created,
        client.get(f"/api/queue/jobs/{job_id}"),
        client.get("/api/queue/jobs"),
        client.delete(f"/api/queue/jobs/{job_id}"),
        client.post(f"/api/queue/jobs/{job_id}/retry"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        data = answer.json()["data"]
        job = data["jobs"][0] if "jobs" in data else data
        _assert_masked(job["payload"])
        assert not any(secret in answer.text for secret in SECRETS), answer.text
    stored = manager.sync.get_job(job_id)
    assert stored is not None  # the handler still gets the real values
    assert stored.payload["headers"]["Authorization"] == "Bearer live-abc"
    assert stored.payload["secret"] == WEBHOOK["secret"]


def test_results_are_masked_too(client: TestClient, manager: QueueManager) -> None:
    job_id = finished(client, "ok", "completed")
    answer = client.get(f"/api/queue/jobs/{job_id}")
    assert answer.json()["data"]["result"]["access_token"] == MASK
    assert manager.sync.get_job(job_id).result["access_token"] == "result-secret"  # type: ignore[union-attr]


def test_redact_rules() -> None:
    assert redact(
        {
            "api_key": "a",
            "apiKey": "b",
            "X-Auth-Token": "c",
            "client_secret": "d",
            "Proxy-Authorization": "e",
            "token": None,
            "author": "visible",
            "url": "https://user:pw@example.com/x?q=1",
            "plain": "https://example.com/@me",
            "n": 1,
        }
    ) == {
        "api_key": MASK,
        "apiKey": MASK,
        "X-Auth-Token": MASK,
        "client_secret": MASK,
        "Proxy-Authorization": MASK,
        "token": None,
        "author": "visible",
        "url": "https://user:***@example.com/x?q=1",
        "plain": "https://example.com/@me",
        "n": 1,
    }


def test_secret_query_parameters_are_masked_in_urls() -> None:
    assert redact({"url": "https://hooks.example.com/in?token=abc&page=2&api_key=zz"}) == {
        "url": "https://hooks.example.com/in?token=***&page=2&api_key=***"
    }
    assert redact(["https://example.com/search?q=token"]) == ["https://example.com/search?q=token"]


def test_error_texts_and_tracebacks_are_masked(client: TestClient, manager: QueueManager) -> None:
    def leaky(job: Any) -> None:
        raise ConnectionError("cannot reach https://bot:pa55@hooks.example.com/in?token=t0k3n")

    manager.register_handler("leaky", leaky)
    job_id = finished(client, "leaky", "failed", max_attempts=1)
    data = client.get(f"/api/queue/jobs/{job_id}").json()["data"]
    shown = [data["error"], data["history"][0]["error"], data["history"][0]["traceback"]]
    assert all("pa55" not in text and "t0k3n" not in text for text in shown)
    assert "https://bot:***@hooks.example.com/in?token=***" in data["error"]
    stored = manager.sync.get_job(job_id)
    assert stored is not None and "t0k3n" in (stored.error or "")  # the store keeps the truth
