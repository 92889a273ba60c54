"""Recurring jobs across real processes: three workers on one SQLite file make exactly one
job per tick of an ``every=1`` schedule, none missing; and the ``schedules`` commands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from noormme_queue import JobStatus, QueueConfig, QueueManager

from .conftest import ROOT, cli, wait_for

TICKS = 6


def jobs_of(db_url: str, name: str) -> list[tuple[float, str, object]]:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        jobs = qm.sync.list_jobs(limit=10_000)
    finally:
        qm.sync.close()
    return sorted(
        (j.run_at.timestamp(), j.status.value, j.result) for j in jobs if j.schedule == name
    )


def test_three_worker_processes_make_one_job_per_tick(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    gates = Path(env["TEST_GATE_DIR"])
    procs = []
    for n in range(3):
        with (tmp_path / f"worker-{n}.log").open("w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.process.sched_worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        wait_for(lambda: len(list(gates.glob("ready-*"))) == 3, 30, "three workers")
        all_running = time.time()

        def enough() -> bool:
            done = [
                t for t, status, _ in jobs_of(db_url, "every-second")
                if t > all_running and status == JobStatus.COMPLETED
            ]  # fmt: skip
            return len(done) >= TICKS

        wait_for(enough, 30, f"{TICKS} ticks run while all three workers ran")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in procs]
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))
    assert codes == [0, 0, 0], logs
    ticks = [t for t, _, _ in jobs_of(db_url, "every-second")]
    assert len(ticks) == len(set(ticks)), f"a tick made two jobs: {ticks}"
    assert ticks == [ticks[0] + n for n in range(len(ticks))], f"a tick was missed: {ticks}"
    assert all(t == int(t) for t in ticks)  # every=1 ticks on whole seconds
    assert len([t for t in ticks if t > all_running]) >= TICKS
    # The declarations at each boot did not disturb the schedule: one, as first defined.
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        (schedule,) = qm.sync.list_schedules()
        assert schedule.name == "every-second" and schedule.payload == {"from": "boot"}
    finally:
        qm.sync.close()


def seed(db_url: str) -> None:
    qm = QueueManager(QueueConfig(database_url=db_url), builtins=False)
    try:
        qm.sync.schedule("nightly", "report", {"kind": "daily"}, cron="0 3 * * *",
                         timezone="Europe/Paris")  # fmt: skip
        qm.sync.schedule("beat", "ping", every=60)
    finally:
        qm.sync.close()


def test_the_schedules_commands(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    missing = env | {"QUEUE_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    nothing = cli(missing, "schedules", "list")
    assert nothing.returncode == 1 and "no queue database" in nothing.stderr
    assert not (tmp_path / "none.db").exists()  # a read command never creates one
    seed(db_url)

    table = cli(env, "schedules", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "type", "when"]
    assert "0 3 * * * (Europe/Paris)" in table.stdout and "every 1m" in table.stdout
    assert all(len(line) <= 80 for line in lines)
    listed = json.loads(cli(env, "schedules", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["beat", "nightly"]
    assert listed[1]["timezone"] == "Europe/Paris" and listed[0]["every"] == 60

    ran = cli(env, "schedules", "run-now", "nightly")
    assert ran.returncode == 0, ran.stderr
    job_id = ran.stdout.split()[1]
    shown = json.loads(cli(env, "jobs", "show", job_id, "--json").stdout)
    assert shown["schedule"] == "nightly" and shown["payload"] == {"kind": "daily"}

    assert cli(env, "schedules", "pause", "beat").stdout.strip() == "paused beat"
    paused = json.loads(cli(env, "schedules", "list", "--json").stdout)
    assert paused[0]["paused"] is True and "paused" in cli(env, "schedules", "list").stdout
    resumed = cli(env, "schedules", "resume", "beat")
    assert resumed.returncode == 0 and resumed.stdout.startswith("resumed beat; next run ")
    assert json.loads(cli(env, "schedules", "list", "--json").stdout)[0]["paused"] is False
    after = json.loads(cli(env, "schedules", "list", "--json").stdout)[1]
    assert after["last_job_id"] == job_id and after["last_status"] == "pending"

    for command in ("run-now", "pause", "resume"):
        wrong = cli(env, "schedules", command, "nope")
        assert wrong.returncode == 1, command
        assert wrong.stderr.strip() == "error: no schedule named 'nope'"
