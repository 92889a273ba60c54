"""A minimal Django project on noormme-queue: Django's Tasks framework runs on the queue
(``TASKS``), whose jobs live in the project's own database, so a task enqueued inside
``transaction.atomic()`` exists only if the transaction commits. Run the worker with
``python manage.py noormme_worker`` (or the older ``runworker`` of this example)."""

import os
from urllib.parse import urlparse

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = ["noormme_queue.contrib.django", "shop"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The queue reads its QUEUE_* variables itself; this one is shown to make the file explicit.
QUEUE_DATABASE_URL = os.environ.get("QUEUE_DATABASE_URL", "sqlite:///./data/queue.db")

# One SQLite file holds the shop's tables and the queue's jobs (PostgreSQL works the same).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": urlparse(QUEUE_DATABASE_URL).path,
    }
}

TASKS = {
    "default": {
        "BACKEND": "noormme_queue.contrib.django.NoormmeTaskBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"DATABASE": "default"},  # jobs are written in Django's transactions
    }
}
