"""The schema of the SQLite store and its migrations, beside ``sql.py`` (the statements),
under the same names as the other dialect's ``schema.py``.

The version lives in our own ``noormme_meta`` table, so the queue can share a database with
an application. Migrations only ever get appended.
"""

from __future__ import annotations

import sqlite3

# -- schema ------------------------------------------------------------------------------------

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs and the indexes that fit each query below.
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
    -- cleanup of old finished jobs, and the completed side of the throughput chart
    CREATE INDEX noormme_jobs_finished ON noormme_jobs (finished_at)
        WHERE status IN ('completed', 'cancelled');
    """,
    # 2 (SQLite only): workers waiting for cross-process wake-ups (see wakeup.py).
    """
    CREATE TABLE noormme_listeners (
        name        TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        created_at  REAL NOT NULL
    );
    """,
    # 3: named queues, limits, claims that stay flat beside any backlog, counts kept.
    """
    ALTER TABLE noormme_jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE noormme_jobs ADD COLUMN limit_key TEXT;
    -- the runs a manual retry grants again (max_attempts grows by it; attempts go on)
    ALTER TABLE noormme_jobs ADD COLUMN budget INTEGER;
    UPDATE noormme_jobs SET budget = max_attempts;
    -- A pending job not due yet is 'scheduled': out of the claim's index until the claim
    -- stages it (STAGE), so no claim walks past jobs due tomorrow.
    UPDATE noormme_jobs SET status = 'scheduled'
        WHERE status = 'pending' AND run_at > CAST(strftime('%s', 'now') AS REAL);
    DROP INDEX noormme_jobs_claim;
    DROP INDEX noormme_jobs_due;
    DROP INDEX noormme_jobs_unique;
    -- claim: due jobs of one queue and type, highest priority, then run_at, then creation
    CREATE INDEX noormme_jobs_claim ON noormme_jobs (queue, type, priority DESC, run_at, id)
        WHERE status = 'pending';
    -- staging and the next due time: scheduled jobs by time
    CREATE INDEX noormme_jobs_scheduled ON noormme_jobs (run_at) WHERE status = 'scheduled';
    -- concurrency limits: processing jobs by type and key (few rows)
    CREATE INDEX noormme_jobs_running ON noormme_jobs (type, limit_key)
        WHERE status = 'processing';
    CREATE UNIQUE INDEX noormme_jobs_unique ON noormme_jobs (unique_key)
        WHERE unique_key IS NOT NULL AND status IN ('pending', 'scheduled', 'processing');
    -- Counts by queue, type and status, kept by triggers in the same transactions, so
    -- stats, queue listings and the claim's choice of (queue, type) read a few rows.
    CREATE TABLE noormme_counts (
        queue   TEXT NOT NULL,
        type    TEXT NOT NULL,
        status  TEXT NOT NULL,
        n       INTEGER NOT NULL,
        PRIMARY KEY (queue, type, status)
    ) WITHOUT ROWID;
    INSERT INTO noormme_counts (queue, type, status, n)
        SELECT queue, type, status, COUNT(*) FROM noormme_jobs GROUP BY queue, type, status;
    CREATE TRIGGER noormme_jobs_count_insert AFTER INSERT ON noormme_jobs BEGIN
        INSERT INTO noormme_counts (queue, type, status, n)
            VALUES (new.queue, new.type, new.status, 1)
            ON CONFLICT (queue, type, status) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER noormme_jobs_count_delete AFTER DELETE ON noormme_jobs BEGIN
        UPDATE noormme_counts SET n = n - 1
            WHERE queue = old.queue AND type = old.type AND status = old.status;
    END;
    CREATE TRIGGER noormme_jobs_count_update AFTER UPDATE OF status, queue, type
        ON noormme_jobs WHEN old.status IS NOT new.status OR old.queue IS NOT new.queue
        OR old.type IS NOT new.type BEGIN
        UPDATE noormme_counts SET n = n - 1
            WHERE queue = old.queue AND type = old.type AND status = old.status;
        INSERT INTO noormme_counts (queue, type, status, n)
            VALUES (new.queue, new.type, new.status, 1)
            ON CONFLICT (queue, type, status) DO UPDATE SET n = n + 1;
    END;
    -- Jobs finished per minute and queue (the dashboard's throughput, metrics): kept when
    -- a job completes or fails, kept after cleanup deletes the jobs.
    CREATE TABLE noormme_minutes (
        minute     INTEGER NOT NULL,
        queue      TEXT NOT NULL,
        completed  INTEGER NOT NULL,
        failed     INTEGER NOT NULL,
        PRIMARY KEY (minute, queue)
    ) WITHOUT ROWID;
    INSERT INTO noormme_minutes (minute, queue, completed, failed)
        SELECT CAST(finished_at / 60 AS INTEGER), queue, SUM(status = 'completed'),
            SUM(status = 'failed') FROM noormme_jobs
        WHERE status IN ('completed', 'failed') AND finished_at IS NOT NULL
        GROUP BY CAST(finished_at / 60 AS INTEGER), queue;
    CREATE TRIGGER noormme_jobs_finished_minute AFTER UPDATE OF status ON noormme_jobs
        WHEN new.status IN ('completed', 'failed') AND old.status IS NOT new.status BEGIN
        INSERT INTO noormme_minutes (minute, queue, completed, failed)
            VALUES (CAST(new.finished_at / 60 AS INTEGER), new.queue,
                new.status = 'completed', new.status = 'failed')
            ON CONFLICT (minute, queue) DO UPDATE SET
                completed = completed + excluded.completed, failed = failed + excluded.failed;
    END;
    -- Queues: paused or not, obeyed by every worker's next claim.
    CREATE TABLE noormme_queues (
        name        TEXT PRIMARY KEY,
        paused      INTEGER NOT NULL DEFAULT 0,
        updated_at  REAL NOT NULL
    );
    -- Job types as workers registered them: their queue and limits.
    CREATE TABLE noormme_types (
        type         TEXT PRIMARY KEY,
        queue        TEXT NOT NULL,
        concurrency  INTEGER,
        rate_count   INTEGER,
        rate_window  REAL,
        defined_by   TEXT NOT NULL,
        updated_at   REAL NOT NULL
    );
    -- Rate limits: the starts of rate-limited types, kept for one window.
    CREATE TABLE noormme_starts (
        type        TEXT NOT NULL,
        limit_key   TEXT NOT NULL,
        started_at  REAL NOT NULL
    );
    CREATE INDEX noormme_starts_window ON noormme_starts (type, started_at);
    CREATE INDEX noormme_starts_key ON noormme_starts (type, limit_key, started_at);
    -- ... and how many of them each (type, key) has in its window: a claim reads a count
    -- per candidate key, never the log (which holds a whole window of starts)
    CREATE TABLE noormme_rates (
        type       TEXT NOT NULL,
        limit_key  TEXT NOT NULL,
        n          INTEGER NOT NULL,
        PRIMARY KEY (type, limit_key)
    ) WITHOUT ROWID;
    """,
    # 4: recurring jobs, and the link from a job to the schedule that made it.
    """
    ALTER TABLE noormme_jobs ADD COLUMN schedule TEXT;
    CREATE TABLE noormme_schedules (
        name          TEXT PRIMARY KEY,
        job           TEXT NOT NULL,
        cron          TEXT,
        every         REAL,
        timezone      TEXT NOT NULL,
        missed        TEXT NOT NULL,
        paused        INTEGER NOT NULL DEFAULT 0,
        next_run_at   REAL NOT NULL,
        last_run_at   REAL,
        last_job_id   TEXT,
        revision      INTEGER NOT NULL DEFAULT 1,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL
    );
    -- the scheduler's due schedules and its next wake-up
    CREATE INDEX noormme_schedules_due ON noormme_schedules (next_run_at) WHERE paused = 0;
    """,
    # 5: the W3C traceparent of the span that enqueued a job (docs/observability.md).
    """
    ALTER TABLE noormme_jobs ADD COLUMN traceparent TEXT;
    """,
    # 6: each job's timeline, in its own row (store/events.py): every statement that changes
    # a job appends that change's events. Jobs from before start with none.
    """
    ALTER TABLE noormme_jobs ADD COLUMN events TEXT NOT NULL DEFAULT '[]';
    """,
    # 7: live workers (a heartbeat each), and jobs started per minute and queue with their
    # wait from due to start (the dashboard's latency chart), kept when a job is claimed.
    """
    CREATE TABLE noormme_workers (
        id            TEXT PRIMARY KEY,
        host          TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        queues        TEXT,
        concurrency   INTEGER NOT NULL,
        types         TEXT NOT NULL,
        jobs          TEXT NOT NULL,
        started_at    REAL NOT NULL,
        heartbeat_at  REAL NOT NULL,
        expires_at    REAL NOT NULL,
        seen_at       REAL NOT NULL
    );
    ALTER TABLE noormme_minutes ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE noormme_minutes ADD COLUMN wait_sum REAL NOT NULL DEFAULT 0;
    ALTER TABLE noormme_minutes ADD COLUMN wait_max REAL NOT NULL DEFAULT 0;
    CREATE TRIGGER noormme_jobs_started_minute AFTER UPDATE OF status ON noormme_jobs
        WHEN new.status = 'processing' AND old.status IN ('pending', 'scheduled') BEGIN
        INSERT INTO noormme_minutes (minute, queue, completed, failed, started, wait_sum,
                wait_max)
            VALUES (CAST(new.started_at / 60 AS INTEGER), new.queue, 0, 0, 1,
                MAX(0.0, new.started_at - old.run_at), MAX(0.0, new.started_at - old.run_at))
            ON CONFLICT (minute, queue) DO UPDATE SET started = started + 1,
                wait_sum = wait_sum + excluded.wait_sum,
                wait_max = MAX(wait_max, excluded.wait_max);
    END;
    """,
    # 8 (SQLite only): the statements that change many jobs at once (the claim, completions,
    # a batch of new jobs) keep the counts themselves, one row per group, instead of three
    # trigger statements per job (store/sqlite/tally.py). Each flips the row's ``tally`` bit;
    # the triggers skip a change that flipped it and still count every other one, whoever
    # makes it.
    """
    ALTER TABLE noormme_jobs ADD COLUMN tally INTEGER NOT NULL DEFAULT 0;
    DROP TRIGGER noormme_jobs_count_insert;
    CREATE TRIGGER noormme_jobs_count_insert AFTER INSERT ON noormme_jobs
        WHEN new.tally = 0 BEGIN
        INSERT INTO noormme_counts (queue, type, status, n)
            VALUES (new.queue, new.type, new.status, 1)
            ON CONFLICT (queue, type, status) DO UPDATE SET n = n + 1;
    END;
    DROP TRIGGER noormme_jobs_count_update;
    CREATE TRIGGER noormme_jobs_count_update AFTER UPDATE OF status, queue, type
        ON noormme_jobs WHEN (old.status IS NOT new.status OR old.queue IS NOT new.queue
        OR old.type IS NOT new.type) AND old.tally IS new.tally BEGIN
        UPDATE noormme_counts SET n = n - 1
            WHERE queue = old.queue AND type = old.type AND status = old.status;
        INSERT INTO noormme_counts (queue, type, status, n)
            VALUES (new.queue, new.type, new.status, 1)
            ON CONFLICT (queue, type, status) DO UPDATE SET n = n + 1;
    END;
    DROP TRIGGER noormme_jobs_finished_minute;
    CREATE TRIGGER noormme_jobs_finished_minute AFTER UPDATE OF status ON noormme_jobs
        WHEN new.status IN ('completed', 'failed') AND old.status IS NOT new.status
        AND old.tally IS new.tally BEGIN
        INSERT INTO noormme_minutes (minute, queue, completed, failed)
            VALUES (CAST(new.finished_at / 60 AS INTEGER), new.queue,
                new.status = 'completed', new.status = 'failed')
            ON CONFLICT (minute, queue) DO UPDATE SET
                completed = completed + excluded.completed, failed = failed + excluded.failed;
    END;
    DROP TRIGGER noormme_jobs_started_minute;
    CREATE TRIGGER noormme_jobs_started_minute AFTER UPDATE OF status ON noormme_jobs
        WHEN new.status = 'processing' AND old.status IN ('pending', 'scheduled')
        AND old.tally IS new.tally BEGIN
        INSERT INTO noormme_minutes (minute, queue, completed, failed, started, wait_sum,
                wait_max)
            VALUES (CAST(new.started_at / 60 AS INTEGER), new.queue, 0, 0, 1,
                MAX(0.0, new.started_at - old.run_at), MAX(0.0, new.started_at - old.run_at))
            ON CONFLICT (minute, queue) DO UPDATE SET started = started + 1,
                wait_sum = wait_sum + excluded.wait_sum,
                wait_max = MAX(wait_max, excluded.wait_max);
    END;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

META_DDL = "CREATE TABLE IF NOT EXISTS noormme_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
READ_VERSION = "SELECT value FROM noormme_meta WHERE key = 'schema_version'"
WRITE_VERSION = (
    "INSERT INTO noormme_meta (key, value) VALUES ('schema_version', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Unversioned: a table this library did not create, which it refuses to touch.
JOBS_TABLE_EXISTS = "SELECT 1 FROM sqlite_master WHERE name = 'noormme_jobs'"


def split_script(script: str) -> list[str]:
    """The statements of a migration script: sqlite3 runs one statement per call, and
    ``executescript`` would commit first. A trigger's body holds semicolons of its own:
    chunks are joined until SQLite says the statement is complete."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    statements, pending = [], ""
    for chunk in "\n".join(lines).split(";"):
        pending += chunk + ";"
        if sqlite3.complete_statement(pending):
            text = pending.strip().removesuffix(";").strip()
            if text:
                statements.append(text)
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().removesuffix(";").strip())
    return statements
