"""Django's Tasks framework on noormme-queue (noormme_queue.contrib.django), driven through a
real Django project (examples/django_app + tests/frameworks/taskapp) and real worker
processes (``python manage.py noormme_worker``). The behaviours are those django-tasks'
own backend tests check (tests/tests/test_database_backend.py, test_rq_backend.py):
enqueue, get_result, refresh, failures recorded, priority order, run_after, an invalid
queue refused, async tasks, the task context; then what this backend adds: Django's
transactions (the queue in Django's database, ENQUEUE_ON_COMMIT), --queues, the dashboard
in Django's URLs."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ..conftest import wait_until
from ..waiting import wait_for
from .conftest import PROJECT, subprocess_env

pytestmark = pytest.mark.usefixtures("django_env")

Worker = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def worker(django_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    """Start ``manage.py noormme_worker`` (extra arguments and variables as given)."""
    procs: list[tuple[subprocess.Popen[str], Any]] = []

    def start(*args: str, **env: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"worker-{len(procs)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "noormme_worker", *args],
            cwd=PROJECT,
            env=subprocess_env(django_env, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append((proc, log))
        return proc

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def finished(result: Any, timeout: float = 30.0) -> None:
    """Refresh ``result`` until it is finished (the worker is another process)."""

    def done() -> bool:
        result.refresh()
        return bool(result.is_finished)

    wait_for(done, timeout=timeout, what=f"task result {result.id} to finish")


def backend() -> Any:
    from noormme_queue.contrib.django.compat import task_backends

    return task_backends["default"]


# -- the backend ---------------------------------------------------------------------------


def test_using_correct_backend() -> None:
    from noormme_queue.contrib.django import NoormmeTaskBackend
    from noormme_queue.contrib.django.compat import task_backends

    default = task_backends["default"]
    assert isinstance(default, NoormmeTaskBackend)
    assert default.alias == "default"
    assert (default.supports_defer, default.supports_async_task) == (True, True)
    assert (default.supports_get_result, default.supports_priority) == (True, True)
    assert default.queues == {"default", "emails", "queue-1"}
    assert list(default.check()) == []


@pytest.mark.parametrize("name", ["noop_task", "noop_task_async"])
def test_enqueue_task(name: str) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    task = getattr(tasks, name)
    result = task.enqueue(1, two=3)
    assert result.status == TaskResultStatus.READY
    assert not result.is_finished
    assert result.started_at is None and result.last_attempted_at is None
    assert result.finished_at is None and result.enqueued_at is not None
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value  # noqa: B018
    assert result.task == task
    assert (result.args, result.kwargs, result.attempts) == ([1], {"two": 3}, 0)
    job = backend().manager.sync.get_job(result.id)  # the job behind it
    assert job is not None and job.type == f"tests.frameworks.taskapp.tasks.{name}"
    assert (job.priority, job.queue, job.max_attempts) == (0, "default", 1)
    assert job.payload == {"args": [1], "kwargs": {"two": 3}}


async def test_enqueue_task_async() -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    for task in (tasks.noop_task, tasks.noop_task_async):
        result = await task.aenqueue()
        assert result.status == TaskResultStatus.READY and not result.is_finished
        assert (result.args, result.kwargs) == ([], {})
        assert await backend().aget_result(result.id) == result


def test_get_result() -> None:
    from tests.frameworks.taskapp import tasks

    result = backend().enqueue(tasks.noop_task, [], {})
    assert backend().get_result(result.id) == result
    assert tasks.noop_task.get_result(result.id) == result
    placed = tasks.noop_task.using(priority=7, queue_name="emails").enqueue()
    again = backend().get_result(placed.id)
    assert again == placed and (again.task.priority, again.task.queue_name) == (7, "emails")


def test_get_missing_result() -> None:
    from noormme_queue.contrib.django.compat import TaskResultDoesNotExist

    with pytest.raises(TaskResultDoesNotExist):
        backend().get_result("job_0000000000000000000000")
    with pytest.raises(TaskResultDoesNotExist):
        backend().get_result("123")
    # a job that is not a Django task is not a task result
    other = backend().manager.sync.add_job("audit-signup", {"email": "a@b.c"})
    with pytest.raises(TaskResultDoesNotExist, match="not a task of the 'default' backend"):
        backend().get_result(other)


def test_invalid_queue_is_refused() -> None:
    from noormme_queue.contrib.django.compat import InvalidTask
    from tests.frameworks.taskapp import tasks

    with pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid for backend"):
        tasks.noop_task.using(queue_name="unknown_queue")


def test_arguments_are_checked_at_enqueue() -> None:
    from noormme_queue import InvalidPayload
    from tests.frameworks.taskapp import tasks

    with pytest.raises(InvalidPayload, match="missing a required argument: 'attempt'"):
        tasks.test_context.enqueue()  # type: ignore[call-arg]
    with pytest.raises(InvalidPayload, match="unexpected keyword argument 'nope'"):
        tasks.calculate_meaning_of_life.enqueue(nope=1)  # type: ignore[call-arg]
    with pytest.raises(InvalidPayload, match="must be JSON data"):
        tasks.noop_task.enqueue(object())


def test_priorities_map_onto_the_queue_s() -> None:
    from noormme_queue.contrib.django.compat import InvalidTask
    from tests.frameworks.taskapp import tasks

    for priority in (-100, -1, 0, 1, 100):
        result = tasks.noop_task.using(priority=priority).enqueue()
        job = backend().manager.sync.get_job(result.id)
        assert job is not None and job.priority == priority  # higher runs first in both
    with pytest.raises(InvalidTask, match="priority must be a whole number between"):
        tasks.noop_task.using(priority=101)


# -- a worker process runs them ------------------------------------------------------------


def test_refresh_result_and_async_task(worker: Worker) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    result = tasks.calculate_meaning_of_life.enqueue()
    asynchronous = tasks.noop_task_async.enqueue()
    proc = worker()
    finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.is_finished
    assert result.return_value == 42 and result.errors == []
    assert result.attempts == 1 and len(result.worker_ids) == 1
    assert f":{proc.pid}:" in result.worker_ids[0]  # the worker process's id
    assert result.started_at is not None and result.finished_at is not None
    assert result.enqueued_at is not None and result.last_attempted_at == result.started_at
    assert result.enqueued_at <= result.started_at <= result.finished_at
    finished(asynchronous)
    assert asynchronous.status == TaskResultStatus.SUCCESSFUL
    assert asynchronous.return_value is None


async def test_arefresh(worker: Worker) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    result = await tasks.calculate_meaning_of_life.aenqueue()
    worker()

    async def done() -> bool:
        await result.arefresh()
        return bool(result.is_finished)

    await wait_until(done, timeout=30, what="the task")
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 42


def test_failing_task_is_recorded(worker: Worker) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    failing = tasks.failing_task_value_error.enqueue()
    complex_ = tasks.complex_exception.enqueue()
    exiting = tasks.exit_task.enqueue()
    worker()
    for result in (failing, complex_, exiting):
        finished(result)
        assert result.status == TaskResultStatus.FAILED
        with pytest.raises(ValueError, match="Task failed"):
            result.return_value  # noqa: B018
        assert result.attempts == 1 and len(result.errors) == 1
        assert result.started_at is not None and result.finished_at is not None
    assert failing.errors[0].exception_class is ValueError
    assert failing.errors[0].exception_class_path == "builtins.ValueError"
    assert failing.errors[0].traceback.endswith("ValueError: This task failed due to ValueError\n")
    assert complex_.errors[0].exception_class is ValueError
    assert 'ValueError(ValueError("This task failed"))' in complex_.errors[0].traceback
    assert exiting.errors[0].exception_class is SystemExit
    # the worker survived the task that called sys.exit
    after = tasks.calculate_meaning_of_life.enqueue()
    finished(after)
    assert after.return_value == 42


def test_takes_context(worker: Worker) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    task_id = tasks.get_task_id.enqueue()
    context = tasks.test_context.enqueue(1)
    worker()
    finished(task_id)
    assert task_id.return_value == task_id.id  # the result id, seen from inside
    finished(context)
    assert context.status == TaskResultStatus.SUCCESSFUL and context.return_value == 1


def test_priority_order(worker: Worker, django_env: dict[str, str]) -> None:
    from tests.frameworks.taskapp import tasks

    order = Path(django_env["TEST_RECORD_DIR"]) / "order.txt"
    order.unlink(missing_ok=True)
    results = [
        tasks.record.using(priority=-10).enqueue("low"),
        tasks.record.using(priority=50).enqueue("high"),
        tasks.record.enqueue("mid-1"),
        tasks.record.enqueue("mid-2"),
        tasks.record.using(priority=100).enqueue("highest"),
    ]
    worker(QUEUE_CONCURRENCY="1")  # one at a time: they start in claim order
    for result in results:
        finished(result)
    assert order.read_text().split() == ["highest", "high", "mid-1", "mid-2", "low"]


def test_run_after(worker: Worker) -> None:
    from django.utils import timezone

    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    later = timezone.now() + timedelta(hours=10)
    far = tasks.record.using(run_after=later).enqueue("far")
    assert far.task.run_after == later
    soon_at = timezone.now() + timedelta(seconds=1.5)
    soon = tasks.record.using(run_after=soon_at).enqueue("soon")
    now = tasks.record.enqueue("now")
    worker()
    finished(now)
    finished(soon)
    assert soon.started_at is not None and soon.started_at >= soon_at
    far.refresh()
    assert far.status == TaskResultStatus.READY  # not due: still waiting
    job = backend().manager.sync.get_job(far.id)
    assert job is not None and job.run_at == later
    assert backend().get_result(far.id).task.run_after == later


def test_worker_consumes_only_its_queues(worker: Worker) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    other = tasks.on_queue_one.enqueue()
    mine = tasks.calculate_meaning_of_life.enqueue()
    worker("--queues", "default")
    finished(mine)
    other.refresh()
    assert other.status == TaskResultStatus.READY  # queue-1 is nobody's here
    worker("--queues", "queue-1=2")
    finished(other)
    assert other.return_value == "queue-1"


def test_noormme_worker_command_refuses_bad_input_and_stops_gracefully(
    worker: Worker, django_env: dict[str, str]
) -> None:
    bad = subprocess.run(
        [sys.executable, "manage.py", "noormme_worker", "--queues", "default=zero"],
        cwd=PROJECT,
        env=subprocess_env(django_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "--queues" in bad.stderr
    proc = worker()
    from tests.frameworks.taskapp import tasks

    finished(tasks.calculate_meaning_of_life.enqueue())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_a_running_task_is_running(worker: Worker, django_env: dict[str, str]) -> None:
    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    result = tasks.gated.enqueue("running-gate")
    proc = worker()

    def running() -> bool:
        result.refresh()
        return bool(result.status == TaskResultStatus.RUNNING)

    wait_for(running, timeout=30, what="the task to start")
    assert not result.is_finished and result.finished_at is None
    assert result.attempts == 1 and f":{proc.pid}:" in result.worker_ids[0]  # this run
    assert result.started_at is not None and result.last_attempted_at == result.started_at
    (Path(django_env["TEST_RECORD_DIR"]) / "running-gate").touch()
    finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "passed running-gate"


def test_max_attempts_retries_a_failed_task(worker: Worker) -> None:
    from django.test import override_settings

    from noormme_queue.contrib.django.compat import TaskResultStatus
    from tests.frameworks.taskapp import tasks

    settings = {
        "default": {**backend_settings(), "OPTIONS": {"DATABASE": "default", "MAX_ATTEMPTS": 2}}
    }
    with override_settings(TASKS=settings):
        result = tasks.fails_once.enqueue()  # fails on its first run, succeeds on the second
        assert backend().max_attempts == 2
    worker()
    finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 2
    assert result.attempts == 2 and len(result.errors) == 1  # the first run's error is kept
    assert result.errors[0].exception_class is RuntimeError
    assert "attempt 1 fails" in result.errors[0].traceback


def backend_settings() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.TASKS["default"])
