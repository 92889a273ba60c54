"""Helpers for tests that run the CLI and workers as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..waiting import wait_for

__all__ = ["wait_for"]

from noormme_queue import Job, QueueConfig, QueueManager

ROOT = Path(__file__).resolve().parents[2]


# The console script pip installed next to this interpreter (`noormme_queue.cli:main`).
SCRIPT = str(Path(sys.executable).with_name("noormme-queue"))


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    gates = tmp_path / "gates"
    gates.mkdir()
    # Nothing from the developer's shell: no QUEUE_* setting, an 80-column console.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    return clean | {
        "QUEUE_DATABASE_URL": db_url,
        "TEST_GATE_DIR": str(gates),
        "QUEUE_SHUTDOWN_TIMEOUT": "20000",
        "QUEUE_INTERVAL": "100",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "80",
    }


def cli(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the console script with stdout and stderr as pipes (not a terminal)."""
    return subprocess.run(
        [SCRIPT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


StartWorker = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start_worker(env: dict[str, str]) -> Iterator[StartWorker]:
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [SCRIPT, "worker", "--app", "tests.process.app:create_manager", *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def add(db_url: str, job_type: str, payload: dict[str, object], **options: Any) -> str:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    job_id = qm.sync.add_job(job_type, payload, **options)
    qm.sync.close()
    return job_id


def get(db_url: str, job_id: str) -> Job:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    job = qm.sync.get_job(job_id)
    qm.sync.close()
    assert job is not None
    return job
