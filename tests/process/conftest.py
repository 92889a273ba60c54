"""Helpers for tests that run the CLI and workers as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    gates = tmp_path / "gates"
    gates.mkdir()
    return os.environ | {
        "QUEUE_DATABASE_URL": db_url,
        "TEST_GATE_DIR": str(gates),
        "QUEUE_SHUTDOWN_TIMEOUT": "20000",
        "QUEUE_INTERVAL": "100",
        "PYTHONUNBUFFERED": "1",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "noormme_queue", *args],
        cwd=ROOT,
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
            [
                sys.executable,
                "-m",
                "noormme_queue",
                "worker",
                "--app",
                "tests.process.app:create_manager",
                *extra,
            ],
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


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
