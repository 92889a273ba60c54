"""What ``worker`` and ``serve`` log when stderr is a file or a pipe (not a terminal)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from noormme_queue import JobStatus
from noormme_queue.cli.logs import one_line

from .conftest import ROOT, SCRIPT, add, get, wait_for

RECORD = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ \S.*"
)
# Long enough that a wrapping handler would break it; line breaks of three kinds inside.
MESSAGE = (
    "the report generator gave up on the quarterly figures because the upstream warehouse "
    "timed out\nafter three tries\u2028and a partial export\rwas discarded"
)


def run_worker(env: dict[str, str], db_url: str, log: Path) -> tuple[str, str]:
    """A worker that fails one job (MESSAGE) and runs one whose completion hook raises;
    returns their ids once both are settled and the worker has exited."""
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [SCRIPT, "worker", "--app", "tests.process.app:create_manager"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            failing = add(db_url, "explode", {"message": MESSAGE}, max_attempts=1)
            hooked = add(db_url, "broken-hook", {})
            wait_for(lambda: get(db_url, failing).status is JobStatus.FAILED, what="failure")
            wait_for(lambda: "completion hook" in log.read_text(), what="the hook's record")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
    assert get(db_url, hooked).status is JobStatus.COMPLETED
    return failing, hooked


def test_text_logs_are_one_line_per_record_with_tracebacks_below(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    failing, hooked = run_worker(env, db_url, log)
    lines = log.read_text().splitlines()  # splitlines also breaks at U+2028 and \r
    failure = [line for line in lines if failing in line and "failed for good" in line]
    assert len(failure) == 1 and RECORD.fullmatch(failure[0])
    assert failure[0].split()[1:3] == ["ERROR", "noormme_queue.worker"]
    assert one_line(MESSAGE) in failure[0]
    assert "timed out\\nafter three tries\\u2028and a partial export\\rwas" in failure[0]
    # Every line is a record, except the hook's traceback right below its record.
    hook = next(i for i, line in enumerate(lines) if "a completion hook raised" in line)
    assert hooked in lines[hook] and RECORD.fullmatch(lines[hook])
    assert lines[hook + 1] == "Traceback (most recent call last):"
    end = next(i for i in range(hook + 1, len(lines)) if RECORD.fullmatch(lines[i]))
    assert lines[end - 1] == f"RuntimeError: the completion hook of {hooked} broke"
    strays = [line for line in lines[: hook + 1] + lines[end:] if not RECORD.fullmatch(line)]
    assert strays == []
    assert any("stopping gracefully" in line for line in lines[end:])


def test_json_logs_are_one_object_per_line(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.jsonl"
    failing, hooked = run_worker(env | {"QUEUE_LOG_FORMAT": "json"}, db_url, log)
    raw = log.read_text()
    assert "\u2028" not in raw and "\r" not in raw
    records = [json.loads(line) for line in raw.splitlines()]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    failure = next(r for r in records if failing in r["message"] and r["level"] == "ERROR")
    assert failure["logger"] == "noormme_queue.worker" and MESSAGE in failure["message"]
    assert "exc_info" not in failure
    hook = next(r for r in records if "a completion hook raised" in r["message"])
    assert hook["exc_info"].startswith("Traceback (most recent call last):")
    assert hook["exc_info"].endswith(f"RuntimeError: the completion hook of {hooked} broke")


def test_the_log_level_and_format_are_checked(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.log"
    run_worker(env | {"QUEUE_LOG_LEVEL": "ERROR"}, db_url, quiet)
    levels = {line.split()[1] for line in quiet.read_text().splitlines() if RECORD.match(line)}
    assert levels == {"ERROR"}
    for name, value in (("QUEUE_LOG_FORMAT", "xml"), ("QUEUE_LOG_LEVEL", "loud")):
        result = subprocess.run(
            [SCRIPT, "worker"], env=env | {name: value}, capture_output=True, text=True
        )
        assert result.returncode == 2 and repr(value) in result.stderr
        assert "Traceback" not in result.stderr


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``serve`` on a free port; returns the process and its base URL (read from its log)."""
    proc = subprocess.Popen(
        [SCRIPT, "serve", "--app", "tests.process.app:create_manager", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return proc, found[1]
    proc.wait(timeout=30)
    raise AssertionError("serve exited before listening")


TOKEN = "tok-4f1d9c0b7e-secret"
QUERY_SECRET = "qs-77aa21-secret"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_writes_one_access_line_per_request_without_secrets(
    env: dict[str, str], log_format: str
) -> None:
    proc, base = serve(env | {"QUEUE_API_TOKEN": TOKEN, "QUEUE_LOG_FORMAT": log_format})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            answers = [
                http.get("/api/queue/health"),
                http.get("/api/queue/stats"),  # no token
                http.get("/api/queue/stats", headers=auth),
                http.get(f"/api/queue/jobs?status=pending&api_key={QUERY_SECRET}", headers=auth),
                http.post("/api/queue/jobs", json={"type": "echo", "payload": {}}, headers=auth),
                http.get("/api/queue/nowhere", headers=auth),
            ]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert [a.status_code for a in answers] == [200, 401, 200, 200, 201, 404]
    assert TOKEN not in rest and QUERY_SECRET not in rest
    expected = [
        ("GET", "/api/queue/health", 200),
        ("GET", "/api/queue/stats", 401),
        ("GET", "/api/queue/stats", 200),
        ("GET", "/api/queue/jobs?status=pending&api_key=***", 200),
        ("POST", "/api/queue/jobs", 201),
        ("GET", "/api/queue/nowhere", 404),
    ]
    if log_format == "json":
        records = [json.loads(line) for line in rest.splitlines()]
        access = [r for r in records if r["logger"] == "noormme_queue.access"]
        assert [(r["method"], r["path"], r["status"]) for r in access] == expected
        for record in access:
            assert record["level"] == "INFO" and record["duration_ms"] >= 0
            assert re.fullmatch(r"127\.0\.0\.1:\d+", record["client"])
            assert record["message"].startswith(f"{record['method']} {record['path']} ")
    else:
        access = [line for line in rest.splitlines() if " noormme_queue.access " in line]
        assert len(access) == len(expected)
        for line, (method, path, status) in zip(access, expected, strict=True):
            assert RECORD.fullmatch(line)
            fields = line.split(" ", 3)[3].split()
            assert fields[:3] == [method, path, str(status)]
            assert re.fullmatch(r"\d+\.\dms", fields[3])
            assert re.fullmatch(r"127\.0\.0\.1:\d+", fields[4])


def test_no_access_log_when_switched_off(env: dict[str, str]) -> None:
    proc, base = serve(env | {"QUEUE_ACCESS_LOG": "false"})
    try:
        assert httpx.get(f"{base}/api/queue/health", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "noormme_queue.access" not in rest
    assert "stopped:" in rest  # the rest of the log is still there
