"""Helpers the setups' preludes and postludes call inside a documentation block's process.

They check what a page promises about its block (the jobs ran, the app answers), with
deadlines instead of sleeps.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from noormme_queue import Job, JobStatus, QueueManager

from .. import waiting

DEADLINE = 30.0


async def due_jobs(qm: QueueManager) -> list[Job]:
    """Jobs this manager should still be running: processing, or pending and due now with a
    handler registered here."""
    now = datetime.now(UTC)
    # Pending first: a job moving on between the two reads is then seen in the second.
    waiting = await qm.list_jobs(status=JobStatus.PENDING, limit=10_000)
    busy = await qm.list_jobs(status=JobStatus.PROCESSING, limit=10_000)
    return busy + [j for j in waiting if j.run_at <= now and j.type in qm.handlers]


async def drain(qm: QueueManager, timeout: float = DEADLINE) -> None:
    """Wait until the manager has run every job that is due and that it has a handler for."""

    async def none_due() -> bool:
        return not await due_jobs(qm)

    await waiting.wait_until(none_due, timeout, "every due job to run", poll=0.02)


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    waiting.wait_for(predicate, timeout, what, poll=0.02)


def finished(job: Job | None) -> bool:
    return job is not None and job.status in (JobStatus.COMPLETED, JobStatus.FAILED)


def visit(app: Any, paths: Sequence[str]) -> None:
    """Run an ASGI app's lifespan and GET each path: each must answer 200."""
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text)


def fastapi_signup(app: Any) -> None:
    """integrations.md's FastAPI app: the route enqueues and the app's worker runs the job."""
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        answer = client.post("/signup", params={"email": "ann@example.com", "name": "Ann"})
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]

        def done() -> bool:
            job = client.get(f"/api/queue/jobs/{job_id}").json()["data"]
            return bool(job["status"] == "completed")

        wait_for(f"job {job_id}", done)
        job = client.get(f"/api/queue/jobs/{job_id}").json()["data"]
        assert job["result"] == {"pack": "welcome-ann.zip"}, job


def flask_invoice(app: Any, qm: QueueManager) -> None:
    """integrations.md's Flask app: a double click enqueues once; a worker thread runs it."""
    client = app.test_client()
    order = {"lines": [{"price": 5}, {"price": 7}]}
    first = client.post("/orders/7/invoice", json=order)
    again = client.post("/orders/7/invoice", json=order)
    assert first.status_code == again.status_code == 202, first.text
    job_id = first.get_json()["job_id"]
    assert again.get_json()["job_id"] == job_id
    qm.sync.start()
    try:
        wait_for(f"job {job_id}", lambda: finished(qm.sync.get_job(job_id)))
        job = qm.sync.get_job(job_id)
        assert job is not None and job.result == {"invoice": "7", "total": 12}, job
    finally:
        qm.sync.close()


async def ledger(create_manager: Callable[[], QueueManager], credit: Callable[[Job], Any]) -> None:
    """reliability.md's ledger: running the same job again does not credit twice."""
    qm = create_manager()
    async with qm:
        job_id = await qm.add_job("credit", {"account": "ann", "amount": 5})
        await drain(qm)
        job = await qm.get_job(job_id)
        assert job is not None and job.result == {"balance": 5}, job
    assert credit(job) == {"balance": 5}  # the job runs a second time: nothing changes


async def run_handler(qm: QueueManager, job_type: str, payload: Any) -> Job:
    job_id = await qm.add_job(job_type, payload)
    await drain(qm)
    job = await qm.get_job(job_id)
    assert job is not None and job.status == JobStatus.COMPLETED, job
    return job


def configure_django() -> None:
    import django
    from django.conf import settings

    settings.configure(DEBUG=True, ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[], INSTALLED_APPS=[])
    django.setup()


def django_shop() -> None:
    """integrations.md's Django project: the view enqueues two jobs in one transaction, and
    the runworker command runs them until SIGTERM."""
    from django.test import RequestFactory

    from shop.management.commands.runworker import Command
    from shop.queue import get_queue
    from shop.views import signup

    answer = signup(RequestFactory().post("/signup", {"email": "ann@example.com"}))
    assert answer.status_code == 202, answer.content
    qm: QueueManager = get_queue()

    def stop_when_done() -> None:
        try:
            wait_for("both jobs", lambda: qm.sync.get_stats().completed == 2)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's graceful stop

    stopper = threading.Thread(target=stop_when_done, daemon=True)
    stopper.start()
    Command().handle()
    stopper.join(timeout=DEADLINE)
    assert qm.sync.get_stats().completed == 2


async def signed_delivery(secret: str) -> tuple[dict[str, str], bytes]:
    """Deliver one webhook job with ``secret`` to a local receiver; return what it got."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from noormme_queue import QueueConfig

    got: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        config = QueueConfig.from_env()
        qm = QueueManager(replace(config, webhook_allow_private=True))
        async with qm:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            body = {"event": "user.created", "data": {"id": 42}}
            await run_handler(qm, "webhook", {"url": url, "body": body, "secret": secret})
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    (delivery,) = got
    return delivery
