"""The PostgreSQL schema and its migrations.

Tables live in the first schema of the connection's ``search_path`` (``public``
unless the URL says ``options=-csearch_path=...``), prefixed ``noormme_`` so the
queue can share a database with an application. The version lives in our own
``noormme_meta`` table. Migrations run in one transaction under a
transaction-level advisory lock and re-read the version there, so many
processes starting at once migrate exactly once.

Times are ``double precision`` Unix seconds, as in SQLite: ``now`` is passed in
as a float, compared as a float, and read back without conversion, so a job
read from either backend is the same object. Payloads, results and progress
are opaque JSON *text* (``jsonb`` would reorder keys); the attempt history is
``jsonb``, a shape this library owns and appends to in SQL.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs and the indexes that fit each query of store/postgres.py.
    """
    CREATE TABLE noormme_jobs (
        id            text PRIMARY KEY,
        type          text NOT NULL,
        payload       text NOT NULL,
        status        text NOT NULL,
        priority      integer NOT NULL DEFAULT 0,
        attempts      integer NOT NULL DEFAULT 0,
        max_attempts  integer NOT NULL,
        run_at        double precision NOT NULL,
        created_at    double precision NOT NULL,
        started_at    double precision,
        finished_at   double precision,
        result        text,
        error         text,
        history       jsonb NOT NULL DEFAULT '[]',
        retry_policy  text,
        unique_key    text,
        timeout       double precision,
        worker_id     text,
        claim_token   text,
        lease_until   double precision,
        progress      text,
        CONSTRAINT noormme_jobs_status_check CHECK
            (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled'))
    );
    -- claim: due pending jobs, highest priority, then run_at, then creation order
    CREATE INDEX noormme_jobs_claim ON noormme_jobs (priority DESC, run_at, id)
        WHERE status = 'pending';
    -- next due time per type, and the distinct pending types (loose scan on the prefix)
    CREATE INDEX noormme_jobs_due ON noormme_jobs (type, run_at) WHERE status = 'pending';
    -- counts by status, listing by status newest first, and expired leases (few rows)
    CREATE INDEX noormme_jobs_status ON noormme_jobs (status, id);
    -- enqueue is idempotent on unique_key while a job with it is live
    CREATE UNIQUE INDEX noormme_jobs_unique ON noormme_jobs (unique_key)
        WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing');
    -- cleanup of old finished jobs, and the completed side of the throughput chart
    CREATE INDEX noormme_jobs_finished ON noormme_jobs (finished_at)
        WHERE status IN ('completed', 'cancelled');
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

# Any constant works: it only has to be the same in every process of every version.
MIGRATION_LOCK = 0x6E71_6D69_6772  # "nqmigr"

META_DDL = "CREATE TABLE IF NOT EXISTS noormme_meta (key text PRIMARY KEY, value text NOT NULL)"
READ_VERSION = "SELECT value FROM noormme_meta WHERE key = 'schema_version'"
WRITE_VERSION = (
    "INSERT INTO noormme_meta (key, value) VALUES ('schema_version', %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
