"""The SQLite schema and its migrations.

The version lives in our own ``noormme_meta`` table (not ``PRAGMA user_version``)
so that the queue can share a database file with an application.
Migrations run in order inside ``BEGIN IMMEDIATE`` and re-read the version
there, so several processes starting at once migrate exactly once.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs and the indexes that fit each query of store/sqlite.py.
    """
    CREATE TABLE noormme_jobs (
        id            TEXT PRIMARY KEY,
        type          TEXT NOT NULL,
        payload       TEXT NOT NULL,
        status        TEXT NOT NULL,
        priority      INTEGER NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0,
        max_attempts  INTEGER NOT NULL,
        run_at        REAL NOT NULL,
        created_at    REAL NOT NULL,
        started_at    REAL,
        finished_at   REAL,
        result        TEXT,
        error         TEXT,
        history       TEXT NOT NULL DEFAULT '[]',
        retry_policy  TEXT,
        unique_key    TEXT,
        timeout       REAL,
        worker_id     TEXT,
        claim_token   TEXT,
        lease_until   REAL,
        progress      TEXT
    );
    -- claim: due pending jobs, highest priority, then run_at, then creation order
    CREATE INDEX noormme_jobs_claim ON noormme_jobs (priority DESC, run_at, id)
        WHERE status = 'pending';
    -- next due time per type, and the distinct pending types (skip-scan on the prefix)
    CREATE INDEX noormme_jobs_due ON noormme_jobs (type, run_at) WHERE status = 'pending';
    -- counts by status, listing by status newest first, and expired leases (few rows)
    CREATE INDEX noormme_jobs_status ON noormme_jobs (status, id);
    -- enqueue is idempotent on unique_key while a job with it is live
    CREATE UNIQUE INDEX noormme_jobs_unique ON noormme_jobs (unique_key)
        WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing');
    -- cleanup of old finished jobs
    CREATE INDEX noormme_jobs_finished ON noormme_jobs (finished_at)
        WHERE status IN ('completed', 'cancelled');
    """,
    # 2: workers waiting for cross-process wake-ups (see sqlite_wakeup.py).
    """
    CREATE TABLE noormme_listeners (
        name        TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        created_at  REAL NOT NULL
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

META_DDL = "CREATE TABLE IF NOT EXISTS noormme_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
READ_VERSION = "SELECT value FROM noormme_meta WHERE key = 'schema_version'"
WRITE_VERSION = (
    "INSERT INTO noormme_meta (key, value) VALUES ('schema_version', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
