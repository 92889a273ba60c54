"""noormme-queue for Django: a backend for Django's Tasks framework, a worker command and the
dashboard in your URLs.

::

    INSTALLED_APPS += ["noormme_queue.contrib.django"]     # python manage.py noormme_worker
    TASKS = {"default": {"BACKEND": "noormme_queue.contrib.django.NoormmeTaskBackend",
                         "QUEUES": ["default", "emails"]}}

It works with ``django.tasks`` (Django 6 and later) and with the ``django-tasks`` backport
before that (see :mod:`.compat`). Nothing here imports Django's task machinery until the
backend is used, so listing the app is enough for Django to load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import NoormmeTaskBackend

__all__ = ["NoormmeTaskBackend"]


def __getattr__(name: str) -> Any:
    if name == "NoormmeTaskBackend":
        from .backend import NoormmeTaskBackend

        return NoormmeTaskBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
