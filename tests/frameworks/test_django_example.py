"""examples/django_app: a view enqueues through qm.sync (django.test.Client); the
``runworker`` management command, run as ``manage.py runworker`` in a subprocess, runs the jobs
and stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from noormme_queue import JobStatus, QueueConfig, QueueManager

from ..waiting import wait_for

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_app"


@pytest.fixture(scope="module")
def django_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("django")
    env = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "QUEUE_DATABASE_URL": f"sqlite:///{tmp / 'queue.db'}",
        "QUEUE_CLEANUP_INTERVAL": "0",
        "QUEUE_INTERVAL": "50",  # ms: the worker sees jobs from the web process promptly
        "EMAIL_OUTBOX_DIR": str(tmp / "outbox"),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    yield env
    from shop.queue import get_queue

    get_queue().sync.close()
    sys.path.remove(str(PROJECT))
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _store(env: dict[str, str]) -> QueueManager:
    return QueueManager(QueueConfig(database_url=env["QUEUE_DATABASE_URL"]), builtins=False)


def test_view_enqueues_and_runworker_runs_the_jobs(
    django_env: dict[str, str], tmp_path: Path
) -> None:
    from django.test import Client

    response = Client().post("/signup/", {"email": "grace@example.com"})
    assert response.status_code == 202
    ids = response.json()
    reader = _store(django_env)
    try:
        welcome = reader.sync.get_job(ids["welcome_job"])
        assert welcome is not None and welcome.status is JobStatus.PENDING  # no worker yet
        assert welcome.payload["to"] == ["grace@example.com"]

        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "runworker"],
            cwd=PROJECT,
            env=os.environ | django_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def completed(job_id: str) -> bool:
                job = reader.sync.get_job(job_id)
                return job is not None and job.status is JobStatus.COMPLETED

            wait_for(lambda: completed(ids["welcome_job"]), timeout=30, what="the welcome mail")
            wait_for(lambda: completed(ids["audit_job"]), timeout=30, what="the audit job")
            outbox = Path(django_env["EMAIL_OUTBOX_DIR"])
            assert any("grace@example.com" in p.read_text() for p in outbox.glob("*.eml"))
            status = Client().get(f"/jobs/{ids['audit_job']}/").json()
            assert status == {"status": "completed", "error": None}
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=30)
            log.close()
        assert code == 0, (tmp_path / "worker.log").read_text()
        assert "worker stopped" in (tmp_path / "worker.log").read_text()
    finally:
        reader.sync.close()
