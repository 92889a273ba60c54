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


# Each name the review found shown in clear, in the spellings payloads and headers use.
SECRET_NAMES = [
    "privateKey",
    "private_key",
    "session_id",
    "sessionId",
    "X-Session-Id",
    "jwt",
    "id_jwt",
    "bearer",
    "X-Access-Key",
    "aws_access_key_id",
    "passphrase",
    "pin",
    "PIN",
    "card_pin",
    "sig",
    "key",
    "x_auth",
    "session",
    "X-CSRF-Token",
    "otp",
]
# Names that merely contain a secret word's letters, and token counters: shown.
VISIBLE_NAMES = [
    "pinned",
    "opinion",
    "keyboard",
    "monkey",
    "keys",
    "author",
    "authority",
    "sessions",
    "passing",
    "passport",
    "compass",
    "design",
    "signal",
    "X-Request-Id",
]


def test_every_secret_name_is_masked() -> None:
    masked = redact({name: "s3cr3t" for name in SECRET_NAMES})
    assert masked == {name: MASK for name in SECRET_NAMES}


def test_names_that_only_look_like_secrets_stay_visible() -> None:
    shown = {name: "plain" for name in VISIBLE_NAMES}
    assert redact(shown) == shown


def test_token_counters_show_numbers_but_not_text() -> None:
    usage = {"tokens_used": 812, "max_tokens": 1000, "tokenCount": 3, "token_limit": 4096}
    assert redact(usage) == usage
    assert redact({"tokens": ["fcm-abc"], "max_tokens": "1000", "token": 5}) == {
        "tokens": MASK,
        "max_tokens": MASK,
        "token": MASK,
    }


def test_query_parameters_follow_the_same_list() -> None:
    url = (
        "https://files.example.com/a.pdf?sig=abc&X-Amz-Signature=def&X-Amz-Credential=ghi"
        "&session_id=jkl&key=mno&jwt=pqr&pin=1234&page=2&pinned=yes"
    )
    assert redact({"url": url}) == {
        "url": "https://files.example.com/a.pdf?sig=***&X-Amz-Signature=***"
        "&X-Amz-Credential=***&session_id=***&key=***&jwt=***&pin=***&page=2&pinned=yes"
    }


def test_secret_header_names_in_a_webhook_payload(client: TestClient) -> None:
    headers = {"X-Session-Id": "sess-1", "X-Access-Key": "ak-2", "Bearer": "b-3", "X-Pin": "4"}
    created = client.post(
        "/api/queue/jobs",
        json={
            "type": "webhook",
            "payload": {"url": "https://hooks.example.com/in", "headers": headers},
            "options": {"delay": 3600},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["payload"]["headers"] == {name: MASK for name in headers}
    assert not any(value in created.text for value in ("sess-1", "ak-2", "b-3"))
