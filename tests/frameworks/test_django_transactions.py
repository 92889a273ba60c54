"""Django's transactions and the queue (noormme_queue.contrib.django): with the queue in
Django's database (the example's OPTIONS DATABASE), a task enqueued in ``atomic()`` is
written through Django's connection in that transaction; with a queue elsewhere,
ENQUEUE_ON_COMMIT holds the write until the commit. Also: the dashboard in Django's URLs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..waiting import wait_for
from .conftest import PROJECT, ROOT, subprocess_env
from .test_django_tasks import Worker, backend, finished, worker

pytestmark = pytest.mark.usefixtures("django_env")
__all__ = ["worker"]  # the fixture, shared


MEANING = "tests.frameworks.taskapp.tasks.calculate_meaning_of_life"


class Rollback(Exception):
    pass


def test_rolled_back_means_no_job_and_no_order() -> None:
    from django.db import transaction

    from noormme_queue.contrib.django.compat import TaskResultDoesNotExist
    from shop.models import Order
    from shop.tasks import confirm_order

    with pytest.raises(Rollback), transaction.atomic():
        order = Order.objects.create(ref="R-1", email="r1@example.com")
        result = confirm_order.enqueue(order.pk)
        assert result.enqueued_at is not None  # written, in this transaction
        with pytest.raises(TaskResultDoesNotExist):  # other connections don't see it
            backend().get_result(result.id)
        raise Rollback
    assert not Order.objects.filter(ref="R-1").exists()
    with pytest.raises(TaskResultDoesNotExist):
        backend().get_result(result.id)


def test_committed_job_runs_after_its_order_exists(worker: Worker) -> None:
    from django.db import transaction

    from shop.models import Order
    from shop.tasks import confirm_order
    from tests.frameworks.taskapp import tasks

    # A 30 s poll: the worker runs it at once only because the commit woke it. A first task
    # run to the end leaves the worker idle (its next claim found nothing) and listening.
    worker(QUEUE_INTERVAL="30000")
    finished(tasks.calculate_meaning_of_life.enqueue())
    with transaction.atomic():
        order = Order.objects.create(ref="R-2", email="r2@example.com")
        result = confirm_order.enqueue(order.pk)
    finished(result, timeout=20)
    assert result.return_value == "order R-2 confirmed"  # the task read the committed order
    order.refresh_from_db()
    assert order.confirmed


def test_the_example_view_enqueues_in_its_transaction(worker: Worker) -> None:
    from django.test import Client

    from shop.models import Order

    worker()
    client = Client()
    response = client.post("/orders/", {"ref": "V-1", "email": "v1@example.com"})
    assert response.status_code == 202
    ids = response.json()

    def status(result_id: str) -> str:
        return str(client.get(f"/orders/results/{result_id}/").json()["status"])

    wait_for(lambda: status(ids["confirm"]) == "SUCCESSFUL", timeout=30, what="the order")
    answer = client.get(f"/orders/results/{ids['confirm']}/").json()
    assert answer == {"status": "SUCCESSFUL", "value": "order V-1 confirmed"}
    receipt = backend().get_result(ids["receipt"])
    finished(receipt)
    assert receipt.return_value == "receipt for V-1 sent to v1@example.com"
    assert receipt.task.queue_name == "emails"
    assert Order.objects.get(ref="V-1").confirmed
    # the same ref again: the unique order fails the transaction, so no task either
    before = backend().manager.sync.get_stats().total
    with pytest.raises(Exception, match="UNIQUE"):
        client.post("/orders/", {"ref": "V-1", "email": "again@example.com"})
    assert backend().manager.sync.get_stats().total == before


@pytest.mark.parametrize("commit", [False, True], ids=["killed-before-commit", "committed"])
def test_a_crash_before_the_commit_leaves_no_job(django_env: dict[str, str], commit: bool) -> None:
    from noormme_queue.contrib.django.compat import TaskResultDoesNotExist
    from shop.models import Order

    ref = f"C-{int(commit)}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.frameworks.crash_order", ref, *(["commit"] * commit)],
        cwd=ROOT,
        env=subprocess_env(django_env, PYTHONPATH=f"{ROOT}:{PROJECT}"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    result_id = proc.stdout.readline().strip()  # the order and the job written, uncommitted
    assert result_id.startswith("job_"), result_id
    if not commit:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdin.close()
    proc.stdout.close()
    assert Order.objects.filter(ref=ref).exists() is commit
    if commit:
        assert backend().get_result(result_id).id == result_id
    else:
        with pytest.raises(TaskResultDoesNotExist):
            backend().get_result(result_id)


# -- a queue in another database: ENQUEUE_ON_COMMIT -------------------------------------------


@pytest.fixture
def separate_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TEST_SEPARATE_QUEUE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    from tests.frameworks.taskapp import queues

    queues.separate.cache_clear()
    yield
    queues.separate().sync.close()
    queues.separate.cache_clear()


def separate_settings(**more: Any) -> Any:
    from django.test import override_settings

    return override_settings(
        TASKS={
            "default": {
                "BACKEND": "noormme_queue.contrib.django.NoormmeTaskBackend",
                "QUEUES": ["default"],
                "OPTIONS": {"QUEUE_MANAGER": "tests.frameworks.taskapp.queues:separate"},
                **more,
            }
        }
    )


@pytest.mark.usefixtures("separate_queue")
def test_enqueue_on_commit_waits_for_the_commit() -> None:
    from django.db import transaction

    from tests.frameworks.taskapp import tasks

    with separate_settings():
        assert backend().enqueue_on_commit  # the default
        store = backend().manager.sync
        with transaction.atomic():
            result = tasks.calculate_meaning_of_life.enqueue()
            assert result.enqueued_at is None  # held until the commit
            assert store.get_job(result.id) is None
        assert result.enqueued_at is not None
        job = store.get_job(result.id)
        assert job is not None and job.type.endswith("calculate_meaning_of_life")
        with pytest.raises(Rollback), transaction.atomic():
            dropped = tasks.calculate_meaning_of_life.enqueue()
            raise Rollback
        assert store.get_job(dropped.id) is None and dropped.enqueued_at is None
        outside = tasks.calculate_meaning_of_life.enqueue()  # no transaction: at once
        assert outside.enqueued_at is not None and store.get_job(outside.id) is not None


@pytest.mark.usefixtures("separate_queue")
def test_without_enqueue_on_commit_the_job_is_written_at_once() -> None:
    from django.db import transaction

    from tests.frameworks.taskapp import tasks

    with separate_settings(ENQUEUE_ON_COMMIT=False):
        assert not backend().enqueue_on_commit
        with pytest.raises(Rollback), transaction.atomic():
            result = tasks.calculate_meaning_of_life.enqueue()
            assert result.enqueued_at is not None
            raise Rollback
        assert backend().manager.sync.get_job(result.id) is not None  # the rollback missed it


# -- the dashboard and REST API in Django's URLs --------------------------------------------


def test_the_dashboard_and_api_mount_in_django_urls() -> None:
    from django.test import Client

    import tests.frameworks.taskapp.tasks  # noqa: F401 - its tasks are job types here

    client = Client()
    page = client.get("/queue/dashboard")
    assert page.status_code == 200 and "text/html" in page["Content-Type"]
    assert b"<html" in page.content.lower()
    stats = client.get("/queue/stats")
    assert stats.status_code == 200 and stats.json()["success"] is True
    created = client.post(
        "/queue/jobs",
        data=json.dumps({"type": MEANING, "payload": {"args": [], "kwargs": {}}}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["data"]["id"]
    shown = client.get(f"/queue/jobs/{job_id}")
    assert shown.json()["data"]["type"] == MEANING
    assert client.get("/queue/jobs/job_missing").status_code == 404


def test_django_on_postgresql_writes_the_job_in_its_transaction() -> None:
    # Django's own psycopg connection, the queue in the same database and schema: a fresh
    # process, since Django is set up once per process (this one is on SQLite).
    from ..pg import fresh_schema

    with fresh_schema() as url:
        schema = url.rsplit("search_path%3D", 1)[1]
        out = subprocess.run(
            [sys.executable, "-m", "tests.frameworks.django_postgres", schema],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["queue"].startswith("postgresql://")
    assert seen == seen | {"inside": False, "rolled_back": False, "committed": True}
    assert seen["orders"] == ["y"]


def test_django_on_postgresql_a_crash_before_the_commit_leaves_no_job() -> None:
    import psycopg

    from ..pg import fresh_schema

    with fresh_schema() as url:
        schema = url.rsplit("search_path%3D", 1)[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.frameworks.django_postgres", schema, "crash"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdin is not None
        job_id = proc.stdout.readline().strip()  # the order and the job written, uncommitted
        assert job_id.startswith("job_"), job_id
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
        with psycopg.connect(url) as pg:
            jobs = pg.execute("SELECT count(*) FROM noormme_jobs WHERE id = %s", (job_id,))
            orders = pg.execute("SELECT count(*) FROM orders").fetchone()
            assert (jobs.fetchone(), orders) == ((0,), (0,))
