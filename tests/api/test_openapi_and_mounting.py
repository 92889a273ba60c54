"""OpenAPI with real schemas (each built-in payload included); the router in other apps."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from noormme_queue import EmailPayload, QueueManager
from noormme_queue.api import create_api_app, create_router

from .conftest import AUTH, assert_error


def _openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_responses_have_real_schemas(client: TestClient) -> None:
    spec = _openapi(client)
    components = spec["components"]["schemas"]
    assert {"JobOut", "ErrorOut", "StatsOut", "JobPage", "EnqueueRequest"} <= set(components)
    assert set(components["JobOut"]["properties"]) >= {"id", "status", "history", "payload"}
    delete = spec["paths"]["/api/queue/jobs/{job_id}"]["delete"]["responses"]
    assert set(delete) >= {"200", "401", "404", "409", "503"}
    assert delete["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }
    assert "QueueApiToken" in spec["components"]["securitySchemes"]
    assert "security" not in spec["paths"]["/api/queue/health"]["get"]


def test_each_built_in_payload_schema_documents_post_jobs(client: TestClient) -> None:
    body = _openapi(client)["paths"]["/api/queue/jobs"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["$ref"] == "#/components/schemas/EnqueueRequest"
    branches = {b["title"]: b["properties"] for b in schema["anyOf"]}
    for job_type in ("email", "newsletter", "image", "thumbnail", "webhook"):
        assert branches[f"{job_type} job"]["type"] == {"const": job_type}
    email = branches["email job"]["payload"]
    assert set(EmailPayload.model_json_schema()["required"]) <= set(email["required"])
    # inlined: no reference left that the document cannot resolve
    assert "$defs" not in str(email) and "#/$defs" not in str(email)
    assert email["properties"]["attachments"]["items"]["properties"]["filename"]
    assert branches["job of another type"]["type"]["not"]["enum"]


def test_the_router_mounts_in_a_users_fastapi_app(manager: QueueManager) -> None:
    app = FastAPI()  # no handlers of ours: the router brings its own envelope

    @app.get("/")
    def home() -> dict[str, str]:
        return {"app": "mine"}

    app.include_router(create_router(manager), prefix="/api/queue")
    with TestClient(app, headers=AUTH) as client:
        assert client.get("/").json() == {"app": "mine"}
        created = client.post("/api/queue/jobs", json={"type": "ok", "options": {"delay": 60}})
        assert created.status_code == 201
        assert manager.sync.get_job(created.json()["data"]["id"]) is not None
        assert_error(
            client.post("/api/queue/jobs", json={"type": "ok", "options": {"priority": "x"}}),
            422,
            "invalid_input",
            "options.priority",
        )
        assert_error(
            client.get("/api/queue/stats", headers={"Authorization": ""}), 401, "unauthorized"
        )
        # the route class brings HEAD, Allow and the early token check into the user's app
        refused = client.put("/api/queue/jobs")
        assert_error(refused, 405, "method_not_allowed")
        assert refused.headers["allow"] == "GET, HEAD, POST"
        head = client.head("/api/queue/stats")
        assert head.status_code == 200 and head.content == b""
        assert client.head("/api/queue/dashboard").status_code == 200
        big = client.post("/api/queue/jobs", content=b"[" * 2_000_000)
        assert_error(big, 413, "too_large", "body")
        page = client.get("/api/queue/dashboard")
        assert page.status_code == 200
        assert 'data-api="/api/queue"' in page.text
        assert 'src="/api/queue/dashboard/static/dashboard.js"' in page.text
        assert client.get("/api/queue/dashboard/static/dashboard.js").status_code == 200


def test_the_router_mounts_in_a_starlette_app(manager: QueueManager) -> None:
    app = Starlette(routes=[Mount("/api/queue", app=create_api_app(manager))])
    with TestClient(app, headers=AUTH) as client:
        created = client.post("/api/queue/jobs", json={"type": "ok", "options": {"delay": 60}})
        assert created.status_code == 201, created.text
        job_id = created.json()["data"]["id"]
        assert client.get(f"/api/queue/jobs/{job_id}").json()["data"]["id"] == job_id
        assert_error(client.get("/api/queue/jobs/job_missing"), 404, "not_found")
        refused = client.post("/api/queue/jobs/job_missing")
        assert_error(refused, 405, "method_not_allowed")
        assert refused.headers["allow"] == "DELETE, GET, HEAD"
        assert client.head("/api/queue/health").status_code == 200
        assert client.get("/api/queue/dashboard").status_code == 200
        assert "/api/queue/jobs/{job_id}" not in client.get("/api/queue/openapi.json").text


async def test_head_sends_no_body_whatever_the_server(manager: QueueManager) -> None:
    # Straight at the ASGI app: a server that does not drop HEAD bodies itself gets none.
    app = create_api_app(manager)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/health",
        "raw_path": b"/health",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    assert scope["method"] == "HEAD"  # the server's scope is left as it was
    start = sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert int(dict(start["headers"])[b"content-length"]) > 0  # GET's length, announced
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b""
