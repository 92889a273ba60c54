"""GET /queues, POST /queues/{name}/pause and /resume, and GET /jobs?queue=: what the store
holds, seen from any process (limits included), behind the token, bad names refused."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from noormme_queue import JobStatus, QueueConfig, QueueManager
from noormme_queue.api import create_app
from noormme_queue.api.models import QUEUE_NAME_PATTERN
from noormme_queue.core.errors import InvalidJob
from noormme_queue.core.routing import check_queue_name
from tests import pg

from .conftest import AUTH, TOKEN, assert_error, enqueue, finished


def _queues(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/queue/queues")
    assert response.status_code == 200, response.text
    queues = response.json()["data"]["queues"]
    assert [q["name"] for q in queues] == sorted(q["name"] for q in queues)
    return {q["name"]: q for q in queues}


def test_queues_show_counts_the_paused_flag_and_each_types_limits(
    client: TestClient, manager: QueueManager
) -> None:
    manager.register_handler(
        "report", lambda job: "ok", queue="reports", concurrency_limit=2, rate_limit="30/minute"
    )
    finished(client, "ok", "completed")
    finished(client, "boom", "failed", max_attempts=1)
    enqueue(client, "report", {}, delay=3600)
    enqueue(client, "ok", {}, delay=3600, queue="reports")  # a type outside its own queue
    assert manager.sync.pause_queue("emails")

    queues = _queues(client)
    assert {"default", "reports", "emails"} <= set(queues)
    store = {q.name: q for q in manager.sync.list_queues()}
    for name, shown in queues.items():
        counts = {k: v for k, v in shown.items() if k != "types"}
        assert counts == {k: v for k, v in store[name].to_dict().items() if k != "types"}
    assert queues["default"]["completed"] == 1 and queues["default"]["failed"] == 1
    assert queues["reports"]["pending"] == 2 and queues["reports"]["paused"] is False
    assert queues["emails"] == {
        "name": "emails",
        "paused": True,
        "total": 0,
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "types": [],
    }
    (report,) = queues["reports"]["types"]
    assert report["type"] == "report" and report["queue"] == "reports"
    assert report["limits"] == {
        "concurrency": 2,
        "rate": {"count": 30, "window": 60.0, "text": "30/minute"},
    }
    assert report["defined_by"] == manager.worker.worker_id
    assert datetime.fromisoformat(report["updated_at"]).tzinfo is not None
    default_types = {t["type"]: t for t in queues["default"]["types"]}
    assert {"ok", "boom", "email", "webhook"} <= set(default_types)
    assert default_types["ok"]["limits"] == {"concurrency": None, "rate": None}


def test_a_process_that_only_enqueues_shows_the_limits_a_worker_stored(
    api_config: QueueConfig,
) -> None:
    worker = QueueManager(api_config, builtins=False)
    worker.register_handler("sync-crm", lambda job: None, queue="partners", rate_limit="100/h")
    worker.register_handler("render", lambda job: None, concurrency_limit=3)
    worker.sync.start()
    worker.sync.close()  # stored at start; gone now
    web = QueueManager(api_config, builtins=False)  # no handler of its own
    with TestClient(create_app(web), headers=AUTH) as client:
        queues = _queues(client)
    assert set(web.handlers) == set()
    (crm,) = queues["partners"]["types"]
    assert crm["limits"] == {
        "concurrency": None,
        "rate": {"count": 100, "window": 3600.0, "text": "100/hour"},
    }
    assert crm["defined_by"] == worker.worker.worker_id
    (render,) = queues["default"]["types"]
    assert render["type"] == "render" and render["limits"]["concurrency"] == 3


def test_pause_and_resume_change_the_store_and_say_whether_they_changed_it(
    client: TestClient, manager: QueueManager
) -> None:
    enqueue(client, "ok", {}, delay=3600, queue="emails")
    paused = client.post("/api/queue/queues/emails/pause")
    assert paused.status_code == 200, paused.text
    data = paused.json()["data"]
    assert data["changed"] is True
    assert data["queue"]["name"] == "emails" and data["queue"]["paused"] is True
    assert data["queue"]["pending"] == 1
    assert {q.name: q.paused for q in manager.sync.list_queues()}["emails"] is True
    again = client.post("/api/queue/queues/emails/pause").json()["data"]
    assert again["changed"] is False and again["queue"]["paused"] is True

    resumed = client.post("/api/queue/queues/emails/resume").json()["data"]
    assert resumed["changed"] is True and resumed["queue"]["paused"] is False
    assert {q.name: q.paused for q in manager.sync.list_queues()}["emails"] is False
    assert client.post("/api/queue/queues/emails/resume").json()["data"]["changed"] is False


def test_a_queue_nobody_has_used_yet_can_be_paused(
    client: TestClient, manager: QueueManager
) -> None:
    body = client.post("/api/queue/queues/reports.eu:night/pause").json()
    assert body["success"] is True and body["data"]["changed"] is True
    assert body["data"]["queue"]["paused"] is True and body["data"]["queue"]["total"] == 0
    assert "reports.eu:night" in {q.name for q in manager.sync.list_queues() if q.paused}
    # resuming a queue that was never paused is no error either
    fresh = client.post("/api/queue/queues/never-seen/resume").json()
    assert fresh["data"] == {
        "changed": False,
        "queue": {
            "name": "never-seen",
            "paused": False,
            "total": 0,
            "pending": 0,
            "processing": 0,
            "completed": 0,
            "failed": 0,
            "cancelled": 0,
            "types": [],
        },
    }


@pytest.mark.parametrize("name", ["bad name", "-dash-first", "a/b", "%3Cscript%3E", "x" * 65])
@pytest.mark.parametrize("action", ["pause", "resume"])
def test_a_malformed_queue_name_is_422_naming_the_field(
    client: TestClient, manager: QueueManager, name: str, action: str
) -> None:
    response = client.post(f"/api/queue/queues/{name}/{action}")
    assert_error(response, 422, "invalid_input", "name")
    assert "queue name" in response.json()["message"]
    assert all(not q.paused for q in manager.sync.list_queues())


def test_an_empty_queue_name_is_422_too(client: TestClient) -> None:
    assert_error(client.post("/api/queue/queues//pause"), 422, "invalid_input", "name")


def test_jobs_filter_by_queue(client: TestClient) -> None:
    mail = enqueue(client, "ok", {}, delay=3600, queue="emails")
    plain = enqueue(client, "ok", {}, delay=3600)
    listed = client.get("/api/queue/jobs", params={"queue": "emails"}).json()["data"]["jobs"]
    assert [(j["id"], j["queue"]) for j in listed] == [(mail, "emails")]
    default = client.get("/api/queue/jobs", params={"queue": "default"}).json()["data"]["jobs"]
    assert [j["id"] for j in default] == [plain]
    both = client.get("/api/queue/jobs", params={"queue": "emails", "status": "pending"})
    assert [j["id"] for j in both.json()["data"]["jobs"]] == [mail]
    assert client.get("/api/queue/jobs", params={"queue": "nobody"}).json()["data"]["jobs"] == []


@pytest.mark.parametrize("queue", ["", "no spaces", "<script>"])
def test_a_malformed_queue_filter_is_422_naming_queue(client: TestClient, queue: str) -> None:
    response = client.get("/api/queue/jobs", params={"queue": queue})
    assert_error(response, 422, "invalid_input", "queue")  # the query's name, not options.queue


def test_stats_filter_by_queue(client: TestClient, manager: QueueManager) -> None:
    finished(client, "ok", "completed", queue="emails")
    enqueue(client, "ok", {}, delay=3600, queue="emails")
    enqueue(client, "ok", {}, delay=3600)

    def persistent(**params: str) -> dict[str, int]:
        response = client.get("/api/queue/stats", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json()["data"]["persistent"])

    emails = persistent(queue="emails")
    assert emails == manager.sync.get_stats(queue="emails").to_dict()
    assert (emails["total"], emails["completed"], emails["pending"]) == (2, 1, 1)
    assert persistent(queue="default")["total"] == 1
    assert persistent()["total"] == 3
    assert persistent(queue="nobody") == dict.fromkeys(emails, 0)


@pytest.mark.parametrize("queue", ["", "no spaces", "<script>", "x" * 65])
def test_a_malformed_stats_queue_is_422_naming_queue(client: TestClient, queue: str) -> None:
    response = client.get("/api/queue/stats", params={"queue": queue})
    assert_error(response, 422, "invalid_input", "queue")
    assert "queue name" in response.json()["message"]


def test_the_queue_of_each_job_is_in_its_answer(client: TestClient, manager: QueueManager) -> None:
    job_id = enqueue(client, "ok", {}, delay=3600, queue="emails", limitKey="tenant:7")
    shown = client.get(f"/api/queue/jobs/{job_id}").json()["data"]
    assert (shown["queue"], shown["limit_key"]) == ("emails", "tenant:7")
    job = manager.sync.get_job(job_id)
    assert job is not None and job.status is JobStatus.PENDING and job.queue == "emails"


def test_the_published_name_pattern_is_the_rule_the_api_applies() -> None:
    names = ["default", "emails", "reports.eu", "a:b-c_d", "9lives", "x" * 64, "x" * 65]
    names += ["", " default", "-a", ".a", "a b", "a/b", "<script>", "émails", "a\n"]
    anchored = QUEUE_NAME_PATTERN.startswith("^") and QUEUE_NAME_PATTERN.endswith("$")
    assert anchored
    body = QUEUE_NAME_PATTERN[1:-1]  # ECMA's $ ends the text; Python's also allows a newline
    for name in names:
        try:
            check_queue_name(name)
            valid = True
        except InvalidJob:
            valid = False
        assert (re.fullmatch(body, name) is not None) is valid, name


def test_the_openapi_document_describes_the_queue_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    assert {"QueueList", "QueueOut", "TypeOut", "TypeLimitsOut", "QueueChangeOut"} <= set(
        components
    )
    assert set(components["QueueOut"]["properties"]) == {
        "name",
        "paused",
        "total",
        "pending",
        "processing",
        "completed",
        "failed",
        "cancelled",
        "types",
    }
    for action in ("pause", "resume"):
        operation = spec["paths"][f"/api/queue/queues/{{name}}/{action}"]["post"]
        assert set(operation["responses"]) >= {"200", "401", "422", "503"}
        (param,) = operation["parameters"]
        assert param["schema"]["pattern"] == QUEUE_NAME_PATTERN
    listing = spec["paths"]["/api/queue/jobs"]["get"]["parameters"]
    assert "queue" in {p["name"] for p in listing}
    stats = spec["paths"]["/api/queue/stats"]["get"]
    (param,) = stats["parameters"]
    assert (param["name"], param["in"], param["required"]) == ("queue", "query", False)
    assert (
        param["schema"]["pattern"] == QUEUE_NAME_PATTERN and "1-64 letters" in param["description"]
    )
    assert "422" in stats["responses"]


def test_queue_endpoints_need_the_token(client: TestClient) -> None:
    client.headers.pop("Authorization", None)
    for method, path in (
        ("GET", "/api/queue/queues"),
        ("POST", "/api/queue/queues/emails/pause"),
        ("POST", "/api/queue/queues/emails/resume"),
    ):
        assert_error(client.request(method, path), 401, "unauthorized")
    client.headers["Authorization"] = AUTH["Authorization"]
    assert "emails" not in _queues(client)  # nothing was paused


def test_the_queue_endpoints_on_postgresql() -> None:
    """The same answers from a PostgreSQL-backed manager: a worker's stored limits seen by a
    process that only enqueues, a pause stored and lifted, the queue filter."""
    with pg.fresh_schema() as url:
        config = QueueConfig(database_url=url, cleanup_interval=0, api_token=TOKEN)
        worker = QueueManager(config, builtins=False)
        worker.register_handler("report", lambda job: None, queue="reports", rate_limit="5/s")
        worker.sync.start()
        worker.sync.close()
        web = QueueManager(config, builtins=False)
        with TestClient(create_app(web), headers=AUTH) as client:
            job_id = web.sync.add_job("report", {}, queue="reports", delay=3600)
            paused = client.post("/api/queue/queues/reports/pause").json()["data"]
            assert paused["changed"] is True and paused["queue"]["paused"] is True
            assert paused["queue"]["pending"] == 1
            (report,) = _queues(client)["reports"]["types"]
            assert report["limits"]["rate"] == {"count": 5, "window": 1.0, "text": "5/second"}
            assert report["defined_by"] == worker.worker.worker_id
            listed = client.get("/api/queue/jobs", params={"queue": "reports"}).json()["data"]
            assert [j["id"] for j in listed["jobs"]] == [job_id]
            assert client.get("/api/queue/jobs?queue=default").json()["data"]["jobs"] == []
            resumed = client.post("/api/queue/queues/reports/resume").json()["data"]
            assert resumed["changed"] is True
            assert _queues(client)["reports"]["paused"] is False
