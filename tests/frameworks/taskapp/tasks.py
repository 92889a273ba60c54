"""Tasks for tests/frameworks/test_django_tasks.py, after the ones django-tasks' own backend
tests use (its tests/tasks.py), written with Django's ``@task``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 12):  # pragma: no cover - Django >= 6 needs Python 3.12
    try:
        from django.tasks import TaskContext, task  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from django_tasks import TaskContext, task
else:
    from django_tasks import TaskContext, task


@task()
def noop_task(*args: Any, **kwargs: Any) -> None:
    return None


@task()
async def noop_task_async(*args: Any, **kwargs: Any) -> None:
    return None


@task()
def calculate_meaning_of_life() -> int:
    return 42


@task()
def failing_task_value_error() -> None:
    raise ValueError("This task failed due to ValueError")


@task()
def complex_exception() -> None:
    raise ValueError(ValueError("This task failed"))


@task()
def exit_task() -> None:
    sys.exit(1)


@task(takes_context=True)
def get_task_id(context: TaskContext) -> str:
    return str(context.task_result.id)


@task(takes_context=True)
def test_context(context: TaskContext, attempt: int) -> int:
    assert isinstance(context, TaskContext)
    assert context.attempt == attempt
    return context.attempt


@task(takes_context=True)
def fails_once(context: TaskContext) -> int:
    if context.attempt < 2:
        raise RuntimeError(f"attempt {context.attempt} fails")
    return context.attempt


@task()
def record(label: str) -> float:
    """Append ``label`` to the file the test named: the order the worker ran them in."""
    with (Path(os.environ["TEST_RECORD_DIR"]) / "order.txt").open("a") as out:
        out.write(label + "\n")
    return time.time()


@task(queue_name="queue-1")
def on_queue_one() -> str:
    return "queue-1"


@task()
def gated(name: str) -> str:
    """Runs until the test creates the file ``name`` in TEST_RECORD_DIR."""
    gate = Path(os.environ["TEST_RECORD_DIR"]) / name
    while not gate.exists():
        time.sleep(0.01)
    return f"passed {name}"
