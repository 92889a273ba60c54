"""``GET /metrics``: scraped from uvicorn on 127.0.0.1 after real jobs ran on a real store
(a pinned clock makes the durations and latencies exact), and parsed with prometheus-client's
own parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from noormme_queue import Job, JobStatus, QueueConfig, QueueManager
from noormme_queue.api.server import bind, http_server
from noormme_queue.contrib.prometheus import queue_metrics
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status, wait_until
from .scrape import parse, value

TOKEN = "s3cret-token"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[QueueManager, ManualClock, str]]:
    clock = ManualClock(1_800_000_000.0)
    config = QueueConfig(
        database_url=f"sqlite:///{tmp_path / 'q.db'}",
        interval=30.0,
        cleanup_interval=0,
        api_token=TOKEN,
    )
    qm = QueueManager(config, clock=clock, background=False, builtins=False)

    def ok(job: Job) -> str:
        clock.advance(0.3)  # the handler "runs" 0.3 s
        return "ok"

    def flaky(job: Job) -> str:
        if job.attempts == 1:
            raise RuntimeError("first attempt fails")
        return "again"

    def broken(job: Job) -> None:
        raise ValueError("always")

    qm.register_handler("ok", ok, queue="emails")
    qm.register_handler("flaky", flaky)
    qm.register_handler("broken", broken)
    sock = bind("127.0.0.1", 0)
    serve = http_server(qm, sock, access_log=False)

    async def run() -> None:
        await serve()

    server = asyncio.create_task(run())
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        await wait_until(lambda: qm.loop is not None, 30, "serve to start the manager")
        yield qm, clock, url
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        sock.close()


async def _scrape(url: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as client:
        return await client.get(f"{url}/metrics", headers=headers, timeout=10)


async def test_a_scrape_counts_what_ran_and_reads_the_kept_counts(
    served: tuple[QueueManager, ManualClock, str],
) -> None:
    qm, clock, url = served
    # completed: due 2 s after its enqueue, started 0.5 s late, ran 0.3 s
    done = await qm.add_job("ok", delay=2.0)
    clock.advance(2.5)
    qm.worker.wake()
    await wait_status(qm, done, JobStatus.COMPLETED)
    # failed, retried 10 s later (started 1 s late), then completed
    flaky = await qm.add_job("flaky", retry_policy={"base_delay": 10.0, "jitter": 0.0})
    await wait_until(lambda: _attempted(qm, flaky), 10, "the first attempt to fail")
    clock.advance(11.0)
    qm.worker.wake()
    await wait_status(qm, flaky, JobStatus.COMPLETED)
    # failed for good
    dead = await qm.add_job("broken", max_attempts=1)
    await wait_status(qm, dead, JobStatus.FAILED)
    # claimed by a worker that vanished: its lease expires, the rescuer recovers it
    orphan = await qm.add_job("orphan")
    now = clock.now()
    claim = await qm.store.claim(["orphan"], 1, now=now, lease_until=now + 1, worker_id="gone:1")
    assert [j.id for j in claim.jobs] == [orphan]
    clock.advance(5.0)
    report = await qm.rescuer.run_once(clock.now())
    assert report.recovered == 1
    # an in-memory queue's run
    thumbs = qm.create_in_memory_queue("thumbs", interval=0)
    thumbs.set_processor(lambda item: item * 2)
    assert await thumbs.add(21) == 42

    refused = await _scrape(url, token=None)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert (await _scrape(url, token="wrong")).status_code == 401
    answer = await _scrape(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    s = parse(answer.text)

    def jobs(kind: str, queue: str, type_: str) -> float | None:
        return value(s, f"noormme_queue_jobs_{kind}_total", queue=queue, type=type_)

    assert [jobs(k, "emails", "ok") for k in ("started", "completed", "failed")] == [1, 1, None]
    assert [jobs(k, "default", "flaky") for k in ("started", "failed", "retried")] == [2, 1, 1]
    assert jobs("completed", "default", "flaky") == 1
    assert [jobs(k, "default", "broken") for k in ("started", "failed", "retried")] == [1, 1, None]
    assert jobs("recovered", "default", "orphan") == 1
    assert jobs("started", "default", "orphan") is None  # it never ran here

    def hist(name: str, type_: str, queue: str = "default", **labels: str) -> float | None:
        return value(s, f"noormme_queue_job_{name}", queue=queue, type=type_, **labels)

    assert hist("duration_seconds_count", "ok", "emails") == 1
    assert hist("duration_seconds_sum", "ok", "emails") == pytest.approx(0.3, abs=1e-5)
    assert hist("duration_seconds_bucket", "ok", "emails", le="0.25") == 0
    assert hist("duration_seconds_bucket", "ok", "emails", le="0.5") == 1
    assert hist("start_latency_seconds_count", "ok", "emails") == 1
    assert hist("start_latency_seconds_sum", "ok", "emails") == pytest.approx(0.5, abs=1e-5)
    assert hist("start_latency_seconds_bucket", "ok", "emails", le="0.25") == 0
    assert hist("start_latency_seconds_bucket", "ok", "emails", le="0.5") == 1
    assert hist("start_latency_seconds_count", "flaky") == 2  # at once, then the retry 1 s late
    assert hist("start_latency_seconds_sum", "flaky") == pytest.approx(1.0, abs=1e-5)
    assert hist("duration_seconds_count", "flaky") == 2

    def gauge(queue: str, status: str) -> float | None:
        return value(s, "noormme_queue_jobs", queue=queue, status=status)

    assert [gauge("emails", st) for st in ("pending", "completed", "failed")] == [0, 1, 0]
    assert [gauge("default", st) for st in ("pending", "processing")] == [1, 0]
    assert [gauge("default", st) for st in ("completed", "failed", "cancelled")] == [1, 1, 0]
    assert value(s, "noormme_queue_queue_paused", queue="emails") == 0
    assert value(s, "noormme_queue_worker_concurrency") == qm.config.concurrency
    assert value(s, "noormme_queue_worker_in_flight") == 0
    assert (
        value(s, "noormme_queue_memory_jobs_finished_total", queue="thumbs", outcome="completed")
        == 1
    )
    assert value(s, "noormme_queue_memory_jobs", queue="thumbs", state="queued") == 0
    assert value(s, "noormme_queue_memory_concurrency", queue="thumbs") == thumbs.concurrency
    for name in qm.get_all_in_memory_stats():  # every in-memory queue, the built-ins too
        assert value(s, "noormme_queue_memory_jobs", queue=name, state="running") == 0

    # the gauges follow the database at each scrape
    await qm.pause_queue("emails")
    again = parse((await _scrape(url)).text)
    assert value(again, "noormme_queue_queue_paused", queue="emails") == 1


async def _attempted(qm: QueueManager, job_id: str) -> bool:
    job = await qm.get_job(job_id)
    return job is not None and job.attempts == 1 and job.status == JobStatus.PENDING


def test_two_managers_count_apart(tmp_path: Path) -> None:
    first = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    second = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'b.db'}"))
    a, b = queue_metrics(first), queue_metrics(second)
    assert a is queue_metrics(first) and a is not b
    assert list(first.observers).count(a) == 1 and b not in list(first.observers)
    a.started.labels("default", "x").inc()
    assert b.started.labels("default", "x")._value.get() == 0
