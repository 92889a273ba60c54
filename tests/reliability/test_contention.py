"""Issue 3, point 6: four producer processes and three workers on one file, at full speed.

Producers add jobs one transaction at a time (through the sync face, as a web
view would) while three workers drain them, all competing for SQLite's one
write lock. No caller may see "database is locked" (the producers record every
exception; the workers' logs are scanned), and the counts must add up: every
id a producer got back is one job, completed, executed exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .procs import (
    ROOT,
    WorkerProcess,
    count,
    executions,
    prepare,
    status_counts,
    stop_all,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow

PRODUCERS = 4
WORKERS = 3
SECONDS = 20.0  # of producing; the whole test takes about SECONDS + 5 s
DRAIN = 60.0


@pytest.mark.timeout(240)
def test_producers_and_workers_contend_without_errors_or_lost_jobs(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    prepare(db)
    # Not about kills: a lease long enough that only a stalled process could lose one.
    env = worker_env(db, QUEUE_LEASE_TIMEOUT="10000")
    workers = [WorkerProcess(env, tmp_path, f"worker-{i}") for i in range(WORKERS)]
    producers: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(PRODUCERS):
            out = tmp_path / f"producer-{i}.json"
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.producer", str(db), str(SECONDS), out],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            producers.append((proc, out))
        ids: list[str] = []
        for proc, out in producers:
            output, _ = proc.communicate(timeout=SECONDS + 60)
            text = output.decode(errors="replace")
            assert proc.returncode == 0, text
            assert "locked" not in text.lower(), text
            report = json.loads(out.read_text())
            assert report["errors"] == []
            assert report["ids"], "a producer added nothing"
            ids += report["ids"]
        assert len(ids) == len(set(ids))
        total = len(ids)
        wait_for(
            lambda: (
                count(db, "SELECT COUNT(*) FROM noormme_jobs WHERE status = 'completed'") >= total
            ),
            DRAIN,
            f"{total} jobs to complete",
        )
    finally:
        for proc, _ in producers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stop_all(workers)
    for worker in workers:
        log = worker.log()
        assert worker.proc.returncode == 0, log
        assert "locked" not in log.lower(), log
        assert "Traceback" not in log, log
    assert status_counts(db) == {"completed": total}
    runs = executions(db)
    assert sorted(runs) == sorted(ids)  # every job the producers were promised, nothing else
    assert [job for job, pids in runs.items() if len(pids) != 1] == []  # none run twice
    assert count(db, "SELECT MAX(attempts) FROM noormme_jobs") == 1
    print(f"{total} jobs from {PRODUCERS} producers, drained by {WORKERS} workers")
