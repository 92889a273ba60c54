"""A second SIGINT/SIGTERM stops ``worker`` and ``serve`` within 2 s, whatever is running:
a long image job (Pillow in a thread), a blocking sync handler, or a blocking hook. Their
threads are daemons of the one sync pool, so nothing joins them at exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noormme_queue import JobStatus, QueueConfig, QueueManager

from .conftest import ROOT, wait_for

SECOND_SIGNAL_BOUND = 2.0  # seconds from the second signal to the process's exit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (4000, 4000), (10, 200, 30)).save(folder / "big.png")
    return folder


@pytest.fixture
def busy_env(tmp_path: Path, db_url: str, image_dir: Path) -> dict[str, str]:
    gates = tmp_path / "gates"
    gates.mkdir()
    return os.environ | {
        "QUEUE_DATABASE_URL": db_url,
        "TEST_GATE_DIR": str(gates),
        "QUEUE_SHUTDOWN_TIMEOUT": "60000",
        "QUEUE_INTERVAL": "100",
        "IMAGE_INPUT_DIRS": str(image_dir),
        "IMAGE_OUTPUT_DIR": str(tmp_path / "out"),
        "PYTHONUNBUFFERED": "1",
    }


def _start(command: str, env: dict[str, str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "noormme_queue", command, "--app"]
    args.append("tests.process.busy_app:create_manager")
    if command == "serve":
        args += ["--port", str(_free_port())]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _read_until(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    raise AssertionError(f"the process exited without logging {text!r}")


def _status(db_url: str, job_id: str) -> JobStatus:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        job = qm.sync.get_job(job_id)
    finally:
        qm.sync.close()
    assert job is not None
    return job.status


def _enqueue(db_url: str, job_type: str, payload: dict[str, object]) -> str:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        return qm.sync.add_job(job_type, payload)
    finally:
        qm.sync.close()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["worker", "serve"])
@pytest.mark.parametrize("busy", ["image", "sync handler", "hook"])
def test_a_second_signal_exits_within_two_seconds(
    command: str,
    busy: str,
    busy_env: dict[str, str],
    db_url: str,
    image_dir: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    gates = Path(busy_env["TEST_GATE_DIR"])
    proc = _start(command, busy_env)
    processes.append(proc)
    if busy == "image":  # ~10 s of Pillow work in one job: 15 large blurs
        blurs = [{"type": "blur", "params": {"radius": 100}}] * 15
        job_id = _enqueue(
            db_url, "image", {"image_path": str(image_dir / "big.png"), "operations": blurs}
        )
        wait_for(lambda: _status(db_url, job_id) is JobStatus.PROCESSING, 60, "the image job")
    else:
        job_type = "blocking" if busy == "sync handler" else "hooked"
        _enqueue(db_url, job_type, {"name": busy})
        wait_for((gates / f"{busy}.started").exists, 60, f"the {busy} to start")
    # Each kind of busy work meets both signals: SIGTERM (what a process manager sends) to
    # the worker, SIGINT (Ctrl+C) to serve.
    sig = signal.SIGTERM if command == "worker" else signal.SIGINT
    proc.send_signal(sig)
    _read_until(proc, "stopping gracefully")
    second = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    took = time.monotonic() - second
    assert took < SECOND_SIGNAL_BOUND, f"{command} took {took:.1f}s after the second signal"
