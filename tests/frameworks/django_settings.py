"""The example project's settings (examples/django_app/project/settings.py), plus the tasks
of tests/frameworks/taskapp and a third queue: the settings of every Django test here."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS, TASKS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.frameworks.taskapp"]
TASKS = {"default": {**TASKS["default"], "QUEUES": ["default", "emails", "queue-1"]}}
