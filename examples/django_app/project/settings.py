"""A minimal Django project that enqueues jobs from a view and runs them with
``python manage.py runworker``."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = ["shop"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES: dict[str, dict[str, str]] = {}  # the example's own data would live here
USE_TZ = True

# The queue reads its QUEUE_* variables itself; this one is shown to make the file explicit.
QUEUE_DATABASE_URL = os.environ.get("QUEUE_DATABASE_URL", "sqlite:///./data/queue.db")
