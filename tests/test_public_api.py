"""The public surface is exactly what __init__ re-exports, sorted."""

from __future__ import annotations

import types

import noormme_queue


def test_all_is_sorted_and_complete() -> None:
    assert noormme_queue.__all__ == sorted(noormme_queue.__all__)
    for name in noormme_queue.__all__:
        assert hasattr(noormme_queue, name), name


def test_nothing_else_leaks() -> None:
    public = {
        name
        for name, value in vars(noormme_queue).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(noormme_queue.__all__)
    assert not set(dir(noormme_queue)) - set(vars(noormme_queue)) - set(noormme_queue.__all__)


def test_importing_the_package_loads_no_optional_dependency() -> None:
    import subprocess
    import sys

    code = (
        "import sys, noormme_queue\n"
        "from noormme_queue import QueueManager, QueueConfig\n"
        "QueueManager(QueueConfig(database_url='sqlite:///unused.db'))\n"
        "print(sorted(m for m in ('pydantic', 'httpx', 'PIL', 'fastapi', 'psycopg')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_design_names_are_exported() -> None:
    for name in (
        "get_queue_manager",
        "QueueManager",
        "QueueConfig",
        "Job",
        "JobStatus",
        "QueueStats",
        "RetryPolicy",
        "QueueError",
    ):
        assert name in noormme_queue.__all__


def test_every_error_derives_from_queue_error() -> None:
    # Handler signals (retry later, give up) and their kinds stand apart from the error tree.
    signals = (noormme_queue.RetryLater, noormme_queue.UnrecoverableError)
    for name in noormme_queue.__all__:
        value = getattr(noormme_queue, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, (noormme_queue.QueueError, *signals)), name
