"""The Django app: listing it in ``INSTALLED_APPS`` adds ``manage.py noormme_worker``."""

from __future__ import annotations

from django.apps import AppConfig


class NoormmeQueueConfig(AppConfig):
    name = "noormme_queue.contrib.django"
    label = "noormme_queue"
    verbose_name = "noormme-queue"
