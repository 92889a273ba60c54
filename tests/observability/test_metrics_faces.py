"""Where ``/metrics`` is served: ``serve`` (a live subprocess, real jobs), a FastAPI router,
a plain ASGI app in Starlette; and what ``/metrics`` says without prometheus-client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Route

from noormme_queue import JobStatus, QueueConfig, QueueManager
from noormme_queue.api.metrics import create_metrics_app, create_metrics_router

from ..waiting import wait_for
from .scrape import parse, value

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "serve-token-9d2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, **kwargs: object) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError:
        return None


def test_serve_answers_metrics_behind_its_token_after_real_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env |= {"QUEUE_DATABASE_URL": url, "QUEUE_API_TOKEN": TOKEN, "QUEUE_INTERVAL": "0.2"}
    args = ["--app", "tests.observability.serve_app:create", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "noormme_queue", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/api/queue/health") is not None, 30, "serve to start")
        producer = QueueManager(QueueConfig(database_url=url), builtins=False)
        ids = producer.sync.add_jobs(
            [
                ("ok", None),
                ("ok", None),
                ("flaky", None, {"retry_policy": {"base_delay": 0.05, "jitter": 0}}),
                ("broken", None, {"max_attempts": 1}),
            ]
        )
        expected = [JobStatus.COMPLETED] * 3 + [JobStatus.FAILED]

        def finished() -> bool:
            jobs = [producer.sync.get_job(i) for i in ids]
            return [j.status if j else None for j in jobs] == expected

        wait_for(finished, 30, "the jobs to finish in serve's worker")
        producer.sync.stop()

        assert (refused := _get(f"{base}/metrics")) is not None and refused.status_code == 401
        answer = _get(f"{base}/metrics", headers=AUTH)
        assert answer is not None and answer.status_code == 200
        s = parse(answer.text)
        assert value(s, "noormme_queue_jobs_completed_total", queue="emails", type="ok") == 2
        assert value(s, "noormme_queue_jobs_started_total", queue="default", type="flaky") == 2
        assert value(s, "noormme_queue_jobs_retried_total", queue="default", type="flaky") == 1
        assert value(s, "noormme_queue_jobs_failed_total", queue="default", type="broken") == 1
        assert value(s, "noormme_queue_jobs", queue="emails", status="completed") == 2
        assert value(s, "noormme_queue_jobs", queue="default", status="failed") == 1
        assert value(s, "noormme_queue_job_duration_seconds_count", queue="emails", type="ok") == 2
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_the_router_and_the_asgi_app_serve_the_same_scrape(tmp_path: Path) -> None:
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}"))
    fastapi_app = FastAPI()
    fastapi_app.include_router(create_metrics_router(qm, token=TOKEN, path="/prom"))
    starlette_app = Starlette(routes=[Route("/metrics", create_metrics_app(qm, token=TOKEN))])
    qm.sync.start()
    try:
        qm.sync.add_job("elsewhere", None)  # no handler here: it waits
        with TestClient(fastapi_app) as a, TestClient(starlette_app) as b:
            for client, path in ((a, "/prom"), (b, "/metrics")):
                assert client.get(path).status_code == 401
                answer = client.get(path, headers=AUTH)
                assert answer.status_code == 200, answer.text
                families = parse(answer.text)
                pending = value(families, "noormme_queue_jobs", queue="default", status="pending")
                assert pending == 1
                assert ("noormme_queue_worker_concurrency", frozenset()) in families
            assert b.post("/metrics", headers=AUTH).status_code == 405
    finally:
        qm.sync.stop()


NO_PROMETHEUS = """
import sys
sys.modules["prometheus_client"] = None  # as if the extra were not installed
from fastapi.testclient import TestClient
from noormme_queue import QueueConfig, QueueManager
from noormme_queue.api import create_app

qm = QueueManager(QueueConfig(database_url=sys.argv[1]))
with TestClient(create_app(qm)) as client:
    answer = client.get("/metrics")
    print(answer.status_code, answer.json()["message"])
"""


def test_without_prometheus_client_metrics_say_how_to_get_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    out = subprocess.run(
        [sys.executable, "-c", NO_PROMETHEUS, url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "501 metrics need prometheus-client: pip install 'noormme-queue[metrics]'"
    )
