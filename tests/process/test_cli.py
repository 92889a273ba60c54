"""The command line, run as a user would: a subprocess, its output and exit code."""

from __future__ import annotations

import json
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager

from .conftest import cli


def seed(db_url: str) -> dict[str, str]:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    ids = {
        "pending": qm.sync.add_job("echo", {"n": 1}),
        "cancelled": qm.sync.add_job("echo", {"n": 2}),
        "other": qm.sync.add_job("report", {"n": 3}),
    }
    qm.sync.cancel_job(ids["cancelled"])
    qm.sync.close()
    return ids


def test_help_names_every_environment_variable(env: dict[str, str]) -> None:
    top = cli(env, "--help")
    assert top.returncode == 0 and "QUEUE_DATABASE_URL" in top.stdout
    worker = cli(env, "worker", "--help")
    assert "QUEUE_APP" in worker.stdout and "QUEUE_CONCURRENCY" in worker.stdout
    assert "QUEUE_CLEANUP_DAYS" in cli(env, "cleanup", "--help").stdout


def test_stats_and_listing(env: dict[str, str], db_url: str) -> None:
    ids = seed(db_url)
    stats = cli(env, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout) == {
        "total": 3,
        "pending": 2,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 1,
    }
    table = cli(env, "stats")
    assert "pending" in table.stdout and "cancelled" in table.stdout
    listed = json.loads(cli(env, "jobs", "list", "--status", "pending", "--json").stdout)
    assert {j["id"] for j in listed} == {ids["pending"], ids["other"]}
    only = json.loads(cli(env, "jobs", "list", "--type", "report", "--json").stdout)
    assert [j["id"] for j in only] == [ids["other"]]
    assert ids["pending"][:12] in cli(env, "jobs", "list").stdout


def test_show_cancel_retry(env: dict[str, str], db_url: str) -> None:
    ids = seed(db_url)
    shown = json.loads(cli(env, "jobs", "show", ids["pending"], "--json").stdout)
    assert shown["payload"] == {"n": 1} and shown["status"] == "pending"
    assert cli(env, "jobs", "cancel", ids["pending"]).returncode == 0
    again = cli(env, "jobs", "cancel", ids["pending"])
    assert again.returncode == 1 and "only pending or processing" in again.stderr
    assert cli(env, "jobs", "retry", ids["cancelled"]).returncode == 0
    assert (
        json.loads(cli(env, "jobs", "show", ids["cancelled"], "--json").stdout)["status"]
        == "pending"
    )


def test_unknown_ids_fail_with_one_line(env: dict[str, str], db_url: str) -> None:
    seed(db_url)
    for args in (
        ["jobs", "show", "job_nope"],
        ["jobs", "cancel", "job_nope"],
        ["jobs", "retry", "job_nope"],
    ):
        result = cli(env, *args)
        assert result.returncode == 1
        assert result.stderr.strip().count("\n") == 0
        assert "no job with id job_nope" in result.stderr


def test_an_unusable_database_fails_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("not a database " * 200)
    result = cli(env | {"QUEUE_DATABASE_URL": f"sqlite:///{not_a_db}"}, "stats")
    assert result.returncode == 1
    assert "is not a SQLite database" in result.stderr and str(not_a_db) in result.stderr
    assert "Traceback" not in result.stderr
    bad_url = cli(env | {"QUEUE_DATABASE_URL": "mysql://x"}, "stats")
    assert bad_url.returncode == 1 and "QUEUE_DATABASE_URL" in bad_url.stderr
    bad_value = cli(env | {"QUEUE_CONCURRENCY": "lots"}, "stats")
    assert bad_value.returncode == 1 and "QUEUE_CONCURRENCY" in bad_value.stderr


def test_cleanup_reports_what_it_removed(env: dict[str, str], db_url: str) -> None:
    seed(db_url)
    assert "removed 0 job(s)" in cli(env, "cleanup").stdout  # cancelled just now: kept
    assert "removed 1 job(s)" in cli(env, "cleanup", "--older-than-days", "0").stdout
    assert json.loads(cli(env, "stats", "--json").stdout)["cancelled"] == 0


def test_schema_prints_a_payload_schema(env: dict[str, str]) -> None:
    result = cli(env, "schema", "email")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert "to" in schema["properties"] and "subject" in schema["properties"]
    assert cli(env, "schema", "nope").returncode == 1


def test_python_dash_m_and_the_bad_app_message(env: dict[str, str]) -> None:
    result = cli(env, "worker", "--app", "no_such_module:qm")
    assert result.returncode == 1 and "cannot import 'no_such_module'" in result.stderr
