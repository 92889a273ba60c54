"""``noormme-queue workers`` and ``noormme-queue doctor`` run as a user would: subprocesses
against a real SQLite file and a real PostgreSQL schema, beside a real worker process.
Healthy: exit 0, every line ``ok:``; a stuck lease, a paused queue, a type no live worker
handles and a worker with a skewed clock: exit 1 with one ``problem:`` line each."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Iterator

import pytest

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.core.ids import new_job_id
from noormme_queue.store import NewJob, store_from_config
from noormme_queue.store.postgres import schema as pg_schema
from tests import pg

from .conftest import StartWorker, add, cli, get, wait_for


class Ahead:
    """A clock two minutes fast."""

    def now(self) -> float:
        return time.time() + 120


def _live_workers(env: dict[str, str]) -> list[dict[str, object]]:
    result = cli(env, "workers", "--json")
    assert result.returncode == 0, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def _healthy_beside_a_worker(env: dict[str, str], db_url: str, start: StartWorker) -> None:
    proc = start()
    job_id = add(db_url, "echo", {"n": 1})
    wait_for(lambda: get(db_url, job_id).status == "completed", 30, "the echo job to run")
    wait_for(lambda: bool(_live_workers(env)), 30, "the worker's heartbeat")
    (worker,) = _live_workers(env)
    assert worker["pid"] == proc.pid
    assert "echo" in worker["types"] and "gated" in worker["types"]  # type: ignore[operator]

    table = cli(env, "workers")
    assert table.returncode == 0, table.stderr
    assert str(proc.pid) in table.stdout and "0/5" in table.stdout

    doctor = cli(env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    assert lines[-1] == "healthy"
    assert all(line.startswith("ok: ") for line in lines[:-1]), lines
    assert "ok: 1 live worker(s) handle every pending type" in lines

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert _live_workers(env) == []  # a graceful stop removes its row at once


def _plant_problems(db_url: str) -> str:
    """A job whose worker died mid-run long ago (no rescuer runs), a paused queue with a job,
    a pending type nobody handles, and a worker whose clock is two minutes fast."""
    config = QueueConfig(database_url=db_url)
    stuck = NewJob(new_job_id(), "gone", "{}", 0, 3, time.time() - 300, time.time() - 300)

    async def write() -> None:
        store = store_from_config(config)
        await store.open()
        try:
            await store.enqueue([stuck])
            now = time.time() - 200
            got = await store.claim(["gone"], 1, now=now, lease_until=now + 30, worker_id="lost")
            assert [j.id for j in got.jobs] == [stuck.id]
        finally:
            await store.close()

    asyncio.run(write())
    add(db_url, "orphan", {})
    add(db_url, "echo", {}, queue="emails")
    qm = QueueManager(config, builtins=False)
    qm.sync.pause_queue("emails")
    qm.sync.close()
    skewed = QueueManager(config, builtins=False, background=False, clock=Ahead(),
                          worker_id="fast:1:abc")  # fmt: skip
    skewed.register_handler("echo", lambda job: None)
    asyncio.run(skewed.heartbeat.run_once(skewed.clock.now()))  # its row stays: no stop
    asyncio.run(skewed.store.close())
    return stuck.id


def _doctor_names_each_problem(env: dict[str, str], db_url: str) -> list[str]:
    stuck = _plant_problems(db_url)
    result = cli(env, "doctor")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    problems = [line for line in lines if line.startswith("problem: ")]
    assert lines[-1] == f"{len(problems)} problem(s)"
    assert len(problems) == 4, lines
    text = "\n".join(problems)
    assert f"1 processing job(s) with a lease expired over 60s ago: {stuck} (gone)" in text
    assert "no rescuer is running" in text
    assert "queue emails is paused (1 pending job(s) wait): noormme-queue queues resume" in text
    assert "job type 'orphan' has pending jobs and no live worker handles it" in text
    # two minutes, less the moments between its clock's reading and its write
    assert re.search(r"worker fast:1:abc's clock is 1(19|20)\.\ds ahead of the database's", text)
    report = json.loads(cli(env, "doctor", "--json").stdout)
    assert report["healthy"] is False
    assert {c["name"] for c in report["checks"] if not c["ok"]} == {
        "leases",
        "queues",
        "handlers",
        "clocks",
    }
    return lines


def test_doctor_on_sqlite(env: dict[str, str], db_url: str, start_worker: StartWorker) -> None:
    _healthy_beside_a_worker(env, db_url, start_worker)
    lines = _doctor_names_each_problem(env, db_url)
    for check in ("ok: journal_mode wal", "ok: synchronous NORMAL", "ok: busy_timeout"):
        assert any(line.startswith(check) for line in lines), lines
    assert any(line.startswith("ok: file system ") for line in lines), lines


def test_doctor_refuses_a_missing_database(env: dict[str, str], db_url: str) -> None:
    result = cli(env, "doctor")
    assert result.returncode == 1
    assert result.stderr.startswith("error: no queue database at ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def pg_env(env: dict[str, str]) -> Iterator[tuple[dict[str, str], str]]:
    with pg.fresh_schema() as url:
        yield env | {"QUEUE_DATABASE_URL": url}, url


def test_doctor_on_postgresql(
    pg_env: tuple[dict[str, str], str], start_worker: StartWorker, env: dict[str, str]
) -> None:
    pg_environment, url = pg_env
    env.update(pg_environment)  # start_worker runs with this same dict
    _healthy_beside_a_worker(env, url, start_worker)
    lines = _doctor_names_each_problem(env, url)
    assert lines[0] == f"ok: schema version {pg_schema.SCHEMA_VERSION} (current)"
    assert not any("journal_mode" in line or "WAL" in line for line in lines)  # SQLite only
