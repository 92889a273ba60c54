"""The command line, run as a user would: a subprocess, its output and exit code."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from noormme_queue import JobStatus, QueueConfig, QueueManager, RetryPolicy

from .app import explode
from .conftest import ROOT, SCRIPT, cli, get, wait_for


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
    assert "QUEUE_QUEUES" in worker.stdout
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
    result = subprocess.run(
        [sys.executable, "-m", "noormme_queue", "worker", "--app", "no_such_module:qm"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "cannot import 'no_such_module'" in result.stderr
    assert cli(env, "stats", "--app", "no_such_module:qm").returncode == 1


LONG_ERROR = (
    "the upstream mail relay refused the message because the sender domain is not "
    "verified; verify it in the relay's settings and retry the job afterwards"
)


def seed_failed(db_url: str, job_type: str = "a-rather-long-job-type-name") -> str:
    """A job that failed twice (two attempts, two tracebacks) with a long error."""
    qm = QueueManager(QueueConfig(database_url=db_url, interval=0.05), builtins=False)
    qm.register_handler(job_type, explode)
    job_id = qm.sync.add_job(
        job_type,
        {"message": LONG_ERROR},
        retry_policy=RetryPolicy(max_retries=1, base_delay=0.01, jitter=0),
    )
    qm.sync.start()
    try:

        def failed() -> bool:
            job = qm.sync.get_job(job_id)
            return job is not None and job.status is JobStatus.FAILED

        wait_for(failed, what="the failure")
    finally:
        qm.sync.close()
    return job_id


READ_COMMANDS = (
    ["stats"],
    ["stats", "--json"],
    ["jobs", "list"],
    ["jobs", "show", "job_x"],
    ["jobs", "cancel", "job_x"],
    ["jobs", "retry", "job_x"],
    ["cleanup"],
    ["cleanup", "--older-than-days", "0"],
    ["queues", "list"],
    ["queues", "pause", "emails"],
    ["queues", "resume", "emails"],
)


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_never_create_a_database(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "nowhere" / "queue.db"
    result = cli(env | {"QUEUE_DATABASE_URL": f"sqlite:///{missing}"}, *args)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1  # one line, however long
    assert f"no queue database at {missing} (from QUEUE_DATABASE_URL)" in result.stderr
    assert not missing.parent.exists()


def test_the_missing_default_database_is_named_with_its_full_path(
    env: dict[str, str], tmp_path: Path
) -> None:
    del env["QUEUE_DATABASE_URL"]
    result = cli(env, "stats", cwd=tmp_path)
    assert result.returncode == 1
    default = tmp_path / "data" / "queue.db"
    assert f"no queue database at {default} (the default, sqlite:///./data/queue.db)" in (
        result.stderr
    )
    assert not (tmp_path / "data").exists()
    typed = cli(env, "jobs", "list", "--database-url", "sqlite:///elsewhere.db", cwd=tmp_path)
    assert typed.returncode == 1
    assert f"no queue database at {tmp_path / 'elsewhere.db'} (from --database-url)" in (
        typed.stderr
    )


def test_shared_options_are_accepted_after_the_command_name(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    ids = seed(db_url)
    elsewhere = env | {"QUEUE_DATABASE_URL": f"sqlite:///{tmp_path / 'missing.db'}"}
    for args in (
        ["--database-url", db_url, "stats", "--json"],
        ["stats", "--database-url", db_url, "--json"],
        ["stats", "--json", "--database-url", db_url],
        # typed after the command name beats typed before it
        ["--database-url", "sqlite:///nope.db", "stats", "--database-url", db_url, "--json"],
    ):
        result = cli(elsewhere, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout)["total"] == 3
    listed = cli(elsewhere, "jobs", "list", "--json", "--database-url", db_url)
    assert len(json.loads(listed.stdout)) == 3
    shown = cli(elsewhere, "jobs", "show", ids["pending"], "--database-url", db_url, "--json")
    assert json.loads(shown.stdout)["id"] == ids["pending"]
    grouped = cli(elsewhere, "jobs", "--database-url", db_url, "retry", ids["cancelled"])
    assert grouped.returncode == 0, grouped.stderr
    cleaned = cli(elsewhere, "cleanup", "--database-url", db_url, "--older-than-days", "0")
    assert cleaned.returncode == 0 and "removed 0 job(s)" in cleaned.stdout


APP = "tests.process.app:create_app_manager"


def test_app_on_every_command_uses_the_apps_database_and_handlers(
    env: dict[str, str], tmp_path: Path
) -> None:
    """QUEUE_DATABASE_URL names an empty database; the app's own one holds the jobs."""
    app_db = f"sqlite:///{tmp_path / 'app.db'}"
    ids = seed(app_db)
    env = env | {"TEST_APP_DATABASE_URL": app_db}
    for args in (["--app", APP, "stats", "--json"], ["stats", "--app", APP, "--json"]):
        result = cli(env, *args)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["total"] == 3
    listed = cli(env, "jobs", "list", "--app", APP, "--json")
    assert {j["id"] for j in json.loads(listed.stdout)} == set(ids.values())
    shown = cli(env, "jobs", "show", ids["pending"], "--app", APP, "--json")
    assert json.loads(shown.stdout)["payload"] == {"n": 1}
    assert cli(env, "jobs", "cancel", ids["pending"], "--app", APP).returncode == 0
    assert cli(env, "jobs", "retry", ids["cancelled"], "--app", APP).returncode == 0
    cleaned = cli(env, "cleanup", "--app", APP, "--older-than-days", "0")
    assert "removed 1 job(s)" in cleaned.stdout  # the job cancelled just above
    schema = cli(env, "schema", "greet", "--app", APP)
    assert schema.returncode == 0 and "name" in json.loads(schema.stdout)["properties"]
    assert not (tmp_path / "queue.db").exists()  # QUEUE_DATABASE_URL's was never opened
    # A typed --database-url contradicts the app's: refused, not silently ignored.
    both = cli(env, "stats", "--app", APP, "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    assert both.returncode == 1 and "--database-url cannot change an --app manager" in (both.stderr)


def test_app_on_the_queues_and_schedules_commands(env: dict[str, str], tmp_path: Path) -> None:
    app_db = f"sqlite:///{tmp_path / 'app.db'}"
    seed(app_db)
    env = env | {"TEST_APP_DATABASE_URL": app_db}
    assert cli(env, "queues", "pause", "default", "--app", APP).returncode == 0
    queues = cli(env, "queues", "list", "--app", APP, "--json")
    assert queues.returncode == 0, queues.stderr
    assert [(q["name"], q["paused"]) for q in json.loads(queues.stdout)] == [("default", True)]
    schedules = cli(env, "schedules", "list", "--app", APP, "--json")
    assert schedules.returncode == 0 and json.loads(schedules.stdout) == []
    assert not (tmp_path / "queue.db").exists()  # QUEUE_DATABASE_URL's was never opened


def test_worker_app_runs_the_apps_jobs_in_its_database(env: dict[str, str], tmp_path: Path) -> None:
    app_db = f"sqlite:///{tmp_path / 'app.db'}"
    qm = QueueManager(QueueConfig(database_url=app_db), builtins=False)
    job_id = qm.sync.add_job("greet", {"name": "ada"})
    qm.sync.close()
    worker = subprocess.Popen(
        [SCRIPT, "worker", "--app", APP],
        cwd=ROOT,
        env=env | {"TEST_APP_DATABASE_URL": app_db},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def done() -> bool:
            job = get(app_db, job_id)
            return job.status is JobStatus.COMPLETED and job.result == "hello ada"

        wait_for(done, what="the app's worker to run the job in the app's database")
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0


def test_tables_fit_80_columns_when_piped(env: dict[str, str], db_url: str) -> None:
    ids = seed(db_url)
    failed = seed_failed(db_url)
    stats = cli(env, "stats")
    assert stats.stdout.splitlines() == [
        "total  pending  processing  completed  failed  cancelled",
        "    4        2           0          0       1          1",
    ]
    listing = cli(env, "jobs", "list")
    lines = listing.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), listing.stdout
    assert lines[0].split() == ["id", "type", "status", "prio", "tries", "run", "at", "(UTC)"]
    rows = [line for line in lines[1:] if line.startswith("job_")]
    assert sorted(row.split()[0] for row in rows) == sorted([*ids.values(), failed])
    row = next(row for row in rows if row.startswith(failed))
    assert row.split()[2:5] == ["failed", "0", "2/2"]
    # The failed job's error on the line below its row, shortened between words.
    error_line = lines[lines.index(row) + 1]
    assert error_line.startswith("  RuntimeError: the upstream mail relay")
    shown_words = error_line.removesuffix("…").split()
    full_words = f"RuntimeError: {LONG_ERROR}".split()
    assert error_line.endswith("…") and shown_words == full_words[: len(shown_words)]
    assert len(lines) == 1 + 4 + 1  # header, one line per job, one error line


def fields_of(text: str) -> dict[str, str]:
    """The ``  name  value`` lines of ``jobs show`` (a value that did not fit: "")."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"  ([a-z_]+)(?:  +(\S.*))?", line)
        if match:
            found.setdefault(match[1], match[2] or "")
    return found


def test_show_prints_every_traceback_and_null_for_empty_values(
    env: dict[str, str], db_url: str
) -> None:
    failed = seed_failed(db_url)
    result = cli(env, "jobs", "show", failed)
    assert result.returncode == 0, result.stderr
    text, lines = result.stdout, result.stdout.splitlines()
    assert "None" not in text
    fields = fields_of(text)
    assert fields["result"] == "null" and fields["unique_key"] == "null"
    assert fields["timeout"] == "null" and fields["progress"] == "null"
    assert fields["status"] == "failed" and fields["attempts"] == "2"
    # A payload too long for one line: indented JSON below its name.
    start = lines.index("  payload") + 1
    block = list(itertools.takewhile(lambda line: line.startswith("    "), lines[start:]))
    assert json.loads("\n".join(block)) == {"message": LONG_ERROR}
    # Each attempt with its traceback, which ends with the whole error.
    assert text.count("Traceback (most recent call last):") == 2
    assert re.search(r"^attempt 1: failed on \S+ at .* UTC$", text, re.M)
    assert re.search(r"^attempt 2: failed on \S+ at .* UTC$", text, re.M)
    assert text.count(f"  RuntimeError: {LONG_ERROR}\n") == 2
    # The error field is wrapped between words only, under its value column.
    at = next(i for i, line in enumerate(lines) if line.startswith("  error "))
    indent = len(lines[at]) - len(fields["error"])
    rest = itertools.takewhile(lambda line: line[:indent].isspace(), lines[at + 1 :])
    wrapped = [fields["error"], *(line[indent:] for line in rest)]
    assert len(wrapped) > 1 and all(cell_len(" " * indent + w) <= 80 for w in wrapped)
    assert " ".join(wrapped) == f"RuntimeError: {LONG_ERROR}"
