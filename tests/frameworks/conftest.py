"""The Django project every Django test here drives: the example (examples/django_app) with
tests/frameworks/django_settings.py. Django reads its settings once per process, so the
project is set up once per session; its database (also the queue's) is one temp file."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "django_app"
SETTINGS = "tests.frameworks.django_settings"


@pytest.fixture(scope="session")
def django_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Django set up in this process; the variables a subprocess of the project needs."""
    tmp = tmp_path_factory.mktemp("django")
    (tmp / "records").mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "QUEUE_DATABASE_URL": f"sqlite:///{tmp / 'queue.db'}",
        "QUEUE_CLEANUP_INTERVAL": "0",
        "QUEUE_INTERVAL": "50",  # ms: workers see jobs from other processes promptly
        "EMAIL_OUTBOX_DIR": str(tmp / "outbox"),
        "TEST_RECORD_DIR": str(tmp / "records"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT))
    try:
        import django
        from django.core.management import call_command

        django.setup()  # reads the settings (and so the database file) now, once
        call_command("migrate", verbosity=0)
    finally:
        for key, value in saved.items():  # the rest of the suite sees its own environment
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield env
    from noormme_queue.contrib.django import NoormmeTaskBackend
    from noormme_queue.contrib.django.compat import task_backends

    backend = task_backends["default"]
    if isinstance(backend, NoormmeTaskBackend):
        backend.manager.sync.close()
    sys.path.remove(str(PROJECT))


def subprocess_env(django_env: dict[str, str], **more: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    return clean | django_env | more
