"""The raw stdlib-sqlite3 baselines: the same rows, the same schema, no library around them."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from noormme_queue.core.ids import new_job_id

INSERT = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    " created_at) VALUES (?, 'noop', ?, 'pending', 0, 3, ?, ?)"
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def row(i: int) -> tuple[str, str, float, float]:
    now = time.time()
    return (new_job_id(), json.dumps({"i": i}), now, now)


def single_row_commits(path: Path, jobs: int) -> float:
    """One INSERT and one COMMIT per job: what a naive enqueue does."""
    conn = connect(path)
    started = time.perf_counter()
    for i in range(jobs):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, row(i))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def executemany(path: Path, jobs: int) -> float:
    conn = connect(path)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT, (row(i) for i in range(jobs)))
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def claim_run_settle(path: Path, batch: int) -> tuple[int, float]:
    """A minimal worker: claim a batch with UPDATE ... RETURNING, run no-ops, mark them done."""
    conn = connect(path)
    done = 0
    started = time.perf_counter()
    while True:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
            " started_at = ? WHERE id IN (SELECT id FROM noormme_jobs"
            # the index the library's claim walks; without it SQLite sorts every pending row
            " INDEXED BY noormme_jobs_claim WHERE status = 'pending'"
            " AND run_at <= ? ORDER BY priority DESC, run_at, id LIMIT ?) RETURNING id, payload",
            (now, now, batch),
        ).fetchall()
        conn.execute("COMMIT")
        if not rows:
            break
        results = [
            (json.dumps(json.loads(payload)), time.time(), job_id) for job_id, payload in rows
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "UPDATE noormme_jobs SET status = 'completed', result = ?, finished_at = ?"
            " WHERE id = ? AND status = 'processing'",
            results,
        )
        conn.execute("COMMIT")
        done += len(rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return done, elapsed
