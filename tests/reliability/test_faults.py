"""Issue 3, point 7: faults of the file system under the database.

Each fault must surface as a ``QueueError`` naming the file and the cause;
nothing may be silently recreated or dropped; once the fault clears, the same
process carries on. The faults are real: a read-only tmpfs, a file of junk,
and a small tmpfs filled to the last byte (these tests need root for mount(8)
and fail, rather than skip, without it).
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from noormme_queue import Job, QueueConfig, QueueManager, StoreCorrupt, StoreUnavailable

from .app import GATE_TYPE, JOB_TYPE
from .procs import (
    APP,
    ROOT,
    WorkerProcess,
    query,
    remount,
    status_counts,
    tmpfs,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow


def _manager(db: Path) -> QueueManager:
    qm = QueueManager(
        QueueConfig(database_url=f"sqlite:///{db}", cleanup_interval=0, interval=0.2),
        builtins=False,
    )

    async def echo(job: Job) -> object:
        return job.payload

    qm.register_handler(JOB_TYPE, echo)
    return qm


def _worker_cli(db: Path) -> subprocess.CompletedProcess[str]:
    """The worker command on ``db``, expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "noormme_queue", "worker", "--app", APP],
        cwd=ROOT,
        env=worker_env(db),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    return lines[0]


async def test_an_unwritable_directory_is_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=1m") as disk:
        db = disk / "queue.db"
        before = _manager(db)
        kept = [await before.add_job(JOB_TYPE, {"n": n}) for n in range(3)]
        await before.stop()
        remount(disk, "ro")

        # An existing database in a directory that cannot be written (WAL needs -wal, -shm).
        qm = _manager(db)
        for call in (lambda: qm.add_job(JOB_TYPE, {"n": 3}), qm.start, qm.get_stats):
            with pytest.raises(StoreUnavailable) as caught:
                await call()
            message = str(caught.value)
            assert str(db) in message
            assert "read-only file system" in message
        assert sorted(p.name for p in disk.iterdir()) == ["queue.db"]
        line = _one_line_error(_worker_cli(db))
        assert str(db) in line and "read-only file system" in line

        # A new database there: refused, and nothing is created.
        for missing in (disk / "new.db", disk / "sub" / "queue.db"):
            with pytest.raises(StoreUnavailable) as caught:
                await _manager(missing).add_job(JOB_TYPE, {})
            assert str(missing.parent) in str(caught.value)
            assert "read-only file system" in str(caught.value).lower()
        assert sorted(p.name for p in disk.iterdir()) == ["queue.db"]

        # The fault clears: the same manager carries on, with every job it had.
        remount(disk, "rw")
        late = await qm.add_job(JOB_TYPE, {"n": 3})
        await qm.start()
        try:
            for job_id in [*kept, late]:
                await _wait_completed(qm, job_id)
        finally:
            await qm.stop()
        rows = query(db, "SELECT id, payload, status FROM noormme_jobs ORDER BY id")
        assert [(i, json.loads(p), s) for i, p, s in rows] == [
            (job_id, {"n": n}, "completed") for n, job_id in enumerate([*kept, late])
        ]


async def _wait_completed(qm: QueueManager, job_id: str) -> None:
    from ..conftest import wait_status

    await wait_status(qm, job_id, "completed", timeout=30)


def test_the_worker_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    junk = b"these are my notes, not a database\n" * 100
    db.write_bytes(junk)
    line = _one_line_error(_worker_cli(db))
    assert str(db) in line and "not a SQLite database" in line
    assert db.read_bytes() == junk  # left alone, not "repaired" or recreated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.db"]


async def test_not_a_database_is_store_corrupt_for_every_call(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    db.write_bytes(b"\0junk" * 1000)
    qm = _manager(db)
    for call in (lambda: qm.add_job(JOB_TYPE, {}), qm.get_stats, qm.start):
        with pytest.raises(StoreCorrupt, match="not a SQLite database") as caught:
            await call()
        assert str(db) in str(caught.value)
    assert db.read_bytes() == b"\0junk" * 1000


def _fill(disk: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = disk / "filler"
    chunk = b"\xff" * 65536
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with filler.open("ab", buffering=0) as f:  # and the last few bytes
        try:
            while True:
                f.write(b"\xff")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_disk_is_reported_and_the_worker_carries_on(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=8m") as disk:
        db = disk / "queue.db"
        gate = tmp_path / "gate-open"  # not on the full disk
        qm = _manager(db)
        worker: WorkerProcess | None = None
        try:
            held = [qm.sync.add_job(GATE_TYPE, {"gate": str(gate)}) for _ in range(3)]
            # A long lease: this test is about the disk, not about recovery.
            env = worker_env(db, QUEUE_LEASE_TIMEOUT="30000")
            worker = WorkerProcess(env, tmp_path, "worker")
            wait_for(
                lambda: status_counts(db).get("processing") == 3, 30, "the worker to take the jobs"
            )
            filler = _fill(disk)

            # A producer: refused with the file and the cause; what it added before stays.
            pad = "x" * 200_000
            accepted: list[str] = []
            with pytest.raises(StoreUnavailable) as caught:
                for _ in range(40):
                    accepted.append(qm.sync.add_job(GATE_TYPE, {"gate": str(gate), "pad": pad}))
            assert str(db) in str(caught.value) and "disk is full" in str(caught.value)

            # The worker: its jobs finish, saving their outcomes fails; it says why and waits.
            gate.touch()
            running = worker
            wait_for(lambda: "disk is full" in running.log(), 30, "the worker to report it")
            assert str(db) in worker.log()
            assert worker.alive()
            # Nothing was saved, nothing dropped: the finished jobs' outcomes wait in the worker.
            counts = status_counts(db)
            assert "completed" not in counts and sum(counts.values()) == 3 + len(accepted), counts

            # Space comes back: the same worker process saves and runs everything.
            filler.unlink()
            late = qm.sync.add_job(GATE_TYPE, {"gate": str(gate)})
            everything = [*held, *accepted, late]
            wait_for(
                lambda: status_counts(db) == {"completed": len(everything)},
                60,
                f"{len(everything)} jobs to complete after space was freed",
            )
            assert worker.alive()
            rows = query(db, "SELECT id, attempts, history FROM noormme_jobs")
            assert {r[0] for r in rows} == set(everything)
            # Each ran once, and the outcomes held through the fault were saved, not lost
            # (a lost outcome would show as a lease expiry and a second run).
            for job_id, attempts, history in rows:
                assert attempts == 1, (job_id, history)
                assert [h["outcome"] for h in json.loads(history)] == ["completed"], history
        finally:
            qm.sync.close()
            if worker is not None:
                assert worker.stop() == 0, worker.log()
