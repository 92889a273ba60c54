"""Django's Tasks framework where it lives: ``django.tasks`` on Django 6 and later, else the
``django-tasks`` backport (``pip install noormme-queue[django]``). The rest of this package
imports its names from here."""

from __future__ import annotations

from typing import Any

try:  # Django >= 6
    from django.tasks import (  # type: ignore[import-not-found,unused-ignore]
        TaskContext,
        TaskResult,
        TaskResultStatus,
        task_backends,
    )
    from django.tasks import exceptions as _exceptions  # type: ignore[import-not-found,unused-ignore]
    from django.tasks.backends.base import (  # type: ignore[import-not-found,unused-ignore]
        BaseTaskBackend,
    )
    from django.tasks.base import Task, TaskError  # type: ignore[import-not-found,unused-ignore]
    from django.tasks.signals import (  # type: ignore[import-not-found,unused-ignore]
        task_enqueued,
        task_finished,
        task_started,
    )
except ImportError:
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django_tasks import exceptions as _exceptions
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.signals import task_enqueued, task_finished, task_started

# Django 6 renamed the backport's InvalidTaskError to InvalidTask.
InvalidTask: type[Exception] = (
    getattr(_exceptions, "InvalidTask", None) or _exceptions.InvalidTaskError
)
TaskResultDoesNotExist: type[Exception] = _exceptions.TaskResultDoesNotExist

__all__ = [
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]


def normalize_json(value: Any) -> Any:
    """Arguments and return values as Django's backends keep them: JSON data."""
    try:
        from django.tasks.utils import normalize_json as normalize  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from django_tasks.utils import normalize_json as normalize
    return normalize(value)
