"""``queues list|pause|resume``, ``jobs list --queue`` and ``worker --queues``, run as a user
would: subprocesses against a real SQLite file, their output and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rich.cells import cell_len

from noormme_queue import JobStatus, QueueConfig, QueueManager

from .conftest import ROOT, SCRIPT, cli, get, wait_for

MAIL = {"to": "ada@example.com", "subject": "Your reset link", "text": "..."}


def seed(db_url: str) -> dict[str, str]:
    """A worker that registered a limited type in ``reports`` (stored), and pending jobs in
    three queues."""
    worker = QueueManager(QueueConfig(database_url=db_url, cleanup_interval=0), builtins=False)
    worker.register_handler(
        "report", lambda job: None, queue="reports", concurrency_limit=2, rate_limit="30/minute"
    )
    worker.register_handler("echo", lambda job: job.payload)
    worker.sync.start()
    worker.sync.close()  # its definitions stay in the database
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        return {
            "report": qm.sync.add_job("report", {}, queue="reports", delay=3600),
            "mail": qm.sync.add_job("echo", {}, queue="emails", delay=3600),
            "plain": qm.sync.add_job("echo", {}, delay=3600),
            "worker": worker.worker.worker_id,
        }
    finally:
        qm.sync.close()


def paused(db_url: str) -> set[str]:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        return {q.name for q in qm.sync.list_queues() if q.paused}
    finally:
        qm.sync.close()


def test_queues_list_shows_counts_state_and_the_stored_limits(
    env: dict[str, str], db_url: str
) -> None:
    ids = seed(db_url)
    result = cli(env, "queues", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {q["name"]: q for q in json.loads(result.stdout)}
    assert list(listed) == ["default", "emails", "reports"]
    assert listed["emails"]["pending"] == 1 and listed["emails"]["paused"] is False
    assert listed["emails"]["types"] == []
    (report,) = listed["reports"]["types"]
    assert report["limits"] == {
        "concurrency": 2,
        "rate": {"count": 30, "window": 60.0, "text": "30/minute"},
    }
    assert report["defined_by"] == ids["worker"]
    assert [t["type"] for t in listed["default"]["types"]] == ["echo"]

    table = cli(env, "queues", "list")
    lines = table.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), table.stdout
    assert lines[0].split() == [
        "queue",
        "state",
        "pending",
        "processing",
        "completed",
        "failed",
        "cancelled",
    ]
    assert lines[1].split() == ["default", "running", "1", "0", "0", "0", "0"]
    assert lines[2] == "  echo: no limits"
    assert lines[3].split() == ["emails", "running", "1", "0", "0", "0", "0"]
    assert lines[5] == (
        f"  report: concurrency_limit=2, rate_limit=30/minute (stored by {ids['worker']})"
    )


def test_pause_and_resume_are_stored_and_say_what_they_did(
    env: dict[str, str], db_url: str
) -> None:
    seed(db_url)
    first = cli(env, "queues", "pause", "emails")
    assert (first.returncode, first.stdout) == (0, "paused queue emails\n"), first.stderr
    assert paused(db_url) == {"emails"}
    again = cli(env, "queues", "pause", "emails")
    assert (again.returncode, again.stdout) == (0, "queue emails was paused already\n")
    listed = {q["name"]: q for q in json.loads(cli(env, "queues", "list", "--json").stdout)}
    assert listed["emails"]["paused"] is True
    assert "paused" in cli(env, "queues", "list").stdout.splitlines()[3]
    # a queue nobody used yet can be paused too
    assert cli(env, "queues", "pause", "reports.eu:night").returncode == 0
    assert paused(db_url) == {"emails", "reports.eu:night"}

    resumed = cli(env, "queues", "resume", "emails")
    assert (resumed.returncode, resumed.stdout) == (0, "resumed queue emails\n")
    assert paused(db_url) == {"reports.eu:night"}
    assert cli(env, "queues", "resume", "emails").stdout == "queue emails was not paused\n"


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_a_malformed_queue_name_fails_with_one_line(
    env: dict[str, str], db_url: str, action: str
) -> None:
    seed(db_url)
    result = cli(env, "queues", action, "no spaces please")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "queue name 'no spaces please' must be 1-64 letters" in result.stderr
    assert paused(db_url) == set()


def test_jobs_list_filters_by_queue_and_shows_it(env: dict[str, str], db_url: str) -> None:
    ids = seed(db_url)
    only = json.loads(cli(env, "jobs", "list", "--queue", "emails", "--json").stdout)
    assert [(j["id"], j["queue"]) for j in only] == [(ids["mail"], "emails")]
    default = json.loads(cli(env, "jobs", "list", "--queue", "default", "--json").stdout)
    assert [j["id"] for j in default] == [ids["plain"]]
    assert cli(env, "jobs", "list", "--queue", "nobody").stdout == "no jobs\n"
    # Jobs in several queues: a queue column after the type, where the console has room.
    table = cli(env | {"COLUMNS": "90"}, "jobs", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["id", "type", "queue", "status"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[ids["mail"]][1:3] == ["echo", "emails"]
    assert rows[ids["report"]][1:3] == ["report", "reports"]
    assert all(cell_len(line) <= 90 for line in table), table
    narrow = cli(env, "jobs", "list").stdout.splitlines()  # 80 columns: no room for it
    assert all(cell_len(line) <= 80 for line in narrow), narrow
    assert narrow[0].split()[:3] == ["id", "type", "status"]
    # Filtered to one queue, the column would only repeat it.
    filtered = cli(env, "jobs", "list", "--queue", "emails").stdout.splitlines()
    assert filtered[0].split()[:3] == ["id", "type", "status"]
    bad = cli(env, "jobs", "list", "--queue", "a/b")
    assert bad.returncode == 1 and "queue name 'a/b'" in bad.stderr


def test_stats_of_one_queue(env: dict[str, str], db_url: str) -> None:
    seed(db_url)
    emails = cli(env, "stats", "--queue", "emails", "--json")
    assert emails.returncode == 0, emails.stderr
    assert json.loads(emails.stdout) == {
        "total": 1,
        "pending": 1,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert json.loads(cli(env, "stats", "--json").stdout)["total"] == 3
    assert json.loads(cli(env, "stats", "--queue", "nobody", "--json").stdout)["total"] == 0
    header, row = cli(env, "stats", "--queue", "reports").stdout.splitlines()
    assert header.split()[:2] == ["total", "pending"] and row.split() == [
        "1",
        "1",
        "0",
        "0",
        "0",
        "0",
    ]
    bad = cli(env, "stats", "--queue", "no spaces")
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "queue name 'no spaces' must be 1-64 letters" in bad.stderr


def test_worker_help_names_queue_queues(env: dict[str, str]) -> None:
    shown = cli(env, "worker", "--help").stdout
    assert "--queues" in shown and "QUEUE_QUEUES" in shown and "default,emails=10" in shown


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("default,emails=x", "'emails=x' must be name or name=concurrency"),
        ("default,emails=0", "the concurrency of 'emails' must be >= 1"),
        ("bad name", "queue name 'bad name'"),
        ("emails,emails", "'emails' is listed twice"),
    ],
)
def test_a_bad_queues_value_is_a_usage_error_naming_the_option(
    env: dict[str, str], value: str, problem: str
) -> None:
    typed = cli(env, "worker", "--queues", value)
    assert typed.returncode == 2 and problem in typed.stderr, typed.stderr
    assert "'--queues'" in typed.stderr
    from_env = cli(env | {"QUEUE_QUEUES": value}, "worker")
    assert from_env.returncode == 2 and problem in from_env.stderr
    assert "QUEUE_QUEUES" in from_env.stderr


def test_worker_queues_cannot_change_an_app_manager(env: dict[str, str]) -> None:
    result = cli(env, "worker", "--app", "tests.process.app:create_manager", "--queues", "emails")
    assert result.returncode == 1
    assert "--queues cannot change an --app manager" in result.stderr
    assert "QUEUE_* variables" in result.stderr


def test_worker_queues_consumes_only_the_queues_named(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    """Built-in e-mail jobs (file transport) in two queues; the worker consumes ``emails``
    only, one at a time. The ``default`` job has the higher priority, so a worker consuming
    every queue would run it first."""
    outbox = tmp_path / "outbox"
    qm = QueueManager(QueueConfig(database_url=db_url))
    try:
        left = qm.sync.add_job("email", MAIL, priority=10)
        routed = qm.sync.add_job("email", MAIL, queue="emails")
    finally:
        qm.sync.close()
    worker = subprocess.Popen(
        [SCRIPT, "worker", "--queues", "emails", "--concurrency", "1"],
        cwd=ROOT,
        env=env | {"EMAIL_OUTBOX_DIR": str(outbox)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: get(db_url, routed).status is JobStatus.COMPLETED,
            what="the worker to send the e-mail of the emails queue",
        )
        assert len(list(outbox.glob("*.eml"))) == 1
        kept = get(db_url, left)
        assert (kept.status, kept.attempts, kept.worker_id) == (JobStatus.PENDING, 0, None)
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    assert get(db_url, left).status is JobStatus.PENDING
