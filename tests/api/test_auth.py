"""Bearer token on every endpoint but /health; the allow-list of types enqueueable over HTTP."""

from __future__ import annotations

import hmac

import pytest
from fastapi.testclient import TestClient

from noormme_queue import QueueManager
from noormme_queue.api import create_app

from .conftest import AUTH, TOKEN, assert_error


def _api_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path.replace("{job_id}", "job_x").replace("{name}", "emails"))
        for path, operations in paths.items()
        for method in operations
    ]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", f"{TOKEN}"],
)
def test_every_endpoint_but_health_refuses_a_missing_or_wrong_token(
    client: TestClient, header: str | None
) -> None:
    routes = _api_routes(client)
    assert len(routes) == 21  # + GET /jobs/{id}/events, GET /workers and GET /activity
    for method, path in routes:
        headers = {"Authorization": header} if header is not None else {}
        client.headers.pop("Authorization", None)
        response = client.request(method, path, headers=headers)
        if path.endswith("/health"):
            assert response.status_code == 200
            continue
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_right_token_is_let_in(client: TestClient) -> None:
    assert client.get("/api/queue/stats", headers=AUTH).status_code == 200


def test_the_token_is_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("noormme_queue.api.auth.hmac.compare_digest", spy)
    client.get("/api/queue/stats", headers={"Authorization": "Bearer guess"})
    assert calls == [(b"guess", TOKEN.encode())]


def test_without_a_token_configured_the_api_is_open(manager: QueueManager) -> None:
    app = create_app(manager, token="")
    with TestClient(app) as open_client:
        assert open_client.get("/api/queue/stats").status_code == 200


def test_an_explicit_token_beats_the_configured_one(manager: QueueManager) -> None:
    with TestClient(create_app(manager, token="other")) as other:
        assert other.get("/api/queue/stats", headers=AUTH).status_code == 401
        assert (
            other.get("/api/queue/stats", headers={"Authorization": "Bearer other"}).status_code
            == 200
        )


def test_only_allowed_types_may_be_enqueued_over_http(manager: QueueManager) -> None:
    with TestClient(create_app(manager, allowed_types={"ok"}), headers=AUTH) as limited:
        assert limited.post("/api/queue/jobs", json={"type": "ok"}).status_code == 201
        # registered, but not for HTTP: forbidden (no SSRF through webhooks, no mail relay)
        for kind in ("boom", "webhook", "email"):
            assert_error(
                limited.post("/api/queue/jobs", json={"type": kind, "payload": {}}),
                403,
                "forbidden",
                "type",
            )
        assert_error(
            limited.post("/api/queue/jobs", json={"type": "nobody"}), 422, "invalid_input", "type"
        )
    assert manager.sync.get_stats().total == 1


def test_by_default_any_registered_type_may_be_enqueued(client: TestClient) -> None:
    assert client.post("/api/queue/jobs", json={"type": "ok"}).status_code == 201
    assert_error(
        client.post("/api/queue/jobs", json={"type": "not-registered"}),
        422,
        "invalid_input",
        "type",
    )


def test_the_dashboard_page_needs_no_token_and_holds_no_data(client: TestClient) -> None:
    client.post("/api/queue/jobs", json={"type": "ok", "payload": {"mark": "zzz-data"}})
    page = client.get("/queue", headers={"Authorization": ""})
    assert page.status_code == 200 and "zzz-data" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
