"""Every SQL statement of the SQLite store, under the same names as ``postgres/sql.py``.

Diffing the two modules shows only what differs between the dialects: ``?`` placeholders
(``%(name)s`` there); a statement per row, or a ``VALUES`` list built for a count, where
PostgreSQL takes arrays; and the few statements only one dialect has (see
``tests/store/test_sql_modules.py`` for the list). Times are Unix seconds passed in as
parameters (``now`` is never read inside SQL); payloads, results and the attempt history
are JSON text written by ``store/rows.py``.

The schema version lives in our own ``noormme_meta`` table (not ``PRAGMA user_version``),
so the queue can share a database file with an application. Migrations run in order inside
``BEGIN IMMEDIATE`` and re-read the version there, so several processes starting at once
migrate exactly once.
"""

from __future__ import annotations

from functools import cache

from ..rows import COLUMNS, SCHEDULE_COLUMNS

_SELECTED = ", ".join(COLUMNS)
_LIVE = "status IN ('pending', 'processing')"
# Every transition of a claimed job is a compare-and-set on its status and claim token.
_HELD = "id = ? AND status = 'processing' AND claim_token = ?"
_APPEND_ATTEMPT = "history = json_insert(history, '$[#]', json(?))"

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
    # 3: recurring jobs, and the link from a job to the schedule that made it.
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
    """The statements of a migration script (they hold no semicolon inside a literal):
    sqlite3 runs one statement per call, and ``executescript`` would commit first."""
    statements = []
    for chunk in script.split(";"):
        lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
        text = "\n".join(lines).strip()
        if text:
            statements.append(text)
    return statements


# -- enqueue -----------------------------------------------------------------------------------

# One row per statement (an in-process call costs no round trip), after LIVE_BY_UNIQUE_KEY.
ENQUEUE = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    "  created_at, retry_policy, unique_key, timeout, schedule)"
    " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)"
)

LIVE_BY_UNIQUE_KEY = f"SELECT unique_key, id FROM noormme_jobs WHERE unique_key = ? AND {_LIVE}"

# -- claim -------------------------------------------------------------------------------------


@cache
def CLAIM(type_count: int) -> str:
    """Parameters: token, worker_id, lease_until, now (started_at), now, *types, limit."""
    marks = ", ".join("?" * type_count)
    return (
        "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
        "  claim_token = ?, worker_id = ?, lease_until = ?, started_at = ?"
        " WHERE id IN (SELECT id FROM noormme_jobs INDEXED BY noormme_jobs_claim"
        f"  WHERE status = 'pending' AND run_at <= ? AND type IN ({marks})"
        "  ORDER BY priority DESC, run_at, id LIMIT ?)"
        f" RETURNING {_SELECTED}"
    )


@cache
def NEXT_DUE(type_count: int) -> str:
    """One index seek per type; MIN over the union."""
    per_type = " UNION ALL ".join(
        "SELECT MIN(run_at) AS due FROM noormme_jobs WHERE status = 'pending' AND type = ?"
        for _ in range(type_count)
    )
    return f"SELECT MIN(due) FROM ({per_type})"


# A claimed (or expired) row that no Job can hold: failed with why, in the claim's transaction.
FAIL_UNREADABLE = (
    "UPDATE noormme_jobs SET status = 'failed', error = ?, finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL WHERE {_HELD}"
)

# -- settle ------------------------------------------------------------------------------------


@cache
def COMPLETE(rows: int) -> str:
    """Completions, the bulk of all settles: one statement for many rows.
    Parameters: (id, token, result, attempt) for each row, then now."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return (
        f"WITH v(id, token, result, attempt) AS (VALUES {values})"
        " UPDATE noormme_jobs SET status = 'completed', result = v.result, error = NULL,"
        "  finished_at = ?, claim_token = NULL, lease_until = NULL,"
        "  history = json_insert(history, '$[#]', json(v.attempt))"
        " FROM v WHERE noormme_jobs.id = v.id AND noormme_jobs.status = 'processing'"
        "  AND noormme_jobs.claim_token = v.token"
        " RETURNING noormme_jobs.id"
    )


FAIL = (
    "UPDATE noormme_jobs SET status = 'failed', error = ?, finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT} WHERE {_HELD}"
)
RETRY_LATER = (
    "UPDATE noormme_jobs SET status = 'pending', error = ?, run_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT} WHERE {_HELD}"
)
RELEASE = (
    "UPDATE noormme_jobs SET status = 'pending', attempts = attempts - 1,"
    f"  claim_token = NULL, lease_until = NULL WHERE {_HELD}"
)

# -- leases and progress -----------------------------------------------------------------------

# One lease per statement.
EXTEND_LEASES = f"UPDATE noormme_jobs SET lease_until = ? WHERE {_HELD}"

# Processing jobs are few (at most every worker's concurrency): the status index.
EXPIRED_LEASES = (
    f"SELECT {_SELECTED}, claim_token FROM noormme_jobs"
    " WHERE status = 'processing' AND lease_until < ? LIMIT ?"
)

SAVE_PROGRESS = f"UPDATE noormme_jobs SET progress = ? WHERE {_HELD}"

# -- reads -------------------------------------------------------------------------------------

GET = f"SELECT {_SELECTED} FROM noormme_jobs WHERE id = ?"


@cache
def LIST_JOBS(by_status: bool, by_type: bool, paged: bool) -> str:
    """Newest first; ``paged`` goes on below the id of the previous page's last job.
    Parameters: status, type, before (those asked for), limit."""
    clauses = [
        clause
        for clause, used in (("status = ?", by_status), ("type = ?", by_type), ("id < ?", paged))
        if used
    ]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {_SELECTED} FROM noormme_jobs{where} ORDER BY id DESC LIMIT ?"


STATS = "SELECT status, COUNT(*) FROM noormme_jobs GROUP BY status"

# A skip-scan over the (type, run_at) index: one seek per distinct type. Named, because the
# planner otherwise picks the status index and reads every pending row (90 ms at 50k).
PENDING_TYPES = (
    "WITH RECURSIVE t(type) AS ("
    " SELECT MIN(type) FROM noormme_jobs INDEXED BY noormme_jobs_due WHERE status = 'pending'"
    " UNION ALL"
    " SELECT (SELECT MIN(type) FROM noormme_jobs INDEXED BY noormme_jobs_due"
    "  WHERE status = 'pending' AND type > t.type)"
    " FROM t WHERE t.type IS NOT NULL"
    ") SELECT type FROM t WHERE type IS NOT NULL"
)

# Completed jobs are many: a range of the partial index on finished_at (its status IN (...)
# repeated so the index applies); failed jobs, the dead-letter record, are few: by status.
FINISHED_COUNTS = (
    "SELECT CAST((finished_at - :since) / :width AS INTEGER) AS bucket,"
    " SUM(status = 'completed'), SUM(status = 'failed')"
    " FROM ("
    "  SELECT status, finished_at FROM noormme_jobs INDEXED BY noormme_jobs_finished"
    "   WHERE status IN ('completed', 'cancelled') AND status = 'completed'"
    "   AND finished_at >= :since"
    "  UNION ALL"
    "  SELECT status, finished_at FROM noormme_jobs"
    "   WHERE status = 'failed' AND finished_at >= :since"
    " ) GROUP BY bucket ORDER BY bucket"
)

# -- control -----------------------------------------------------------------------------------

# SQLite only: RETURNING shows the new row, so CANCEL's caller reads the status it replaces
# first, in the same transaction.
LIVE_STATUS = f"SELECT status FROM noormme_jobs WHERE id = ? AND {_LIVE}"
CANCEL = (
    "UPDATE noormme_jobs SET status = 'cancelled', finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL WHERE id = ? AND {_LIVE}"
)

RETRY = (
    "UPDATE noormme_jobs SET status = 'pending', attempts = 0, run_at = ?,"
    "  started_at = NULL, finished_at = NULL, error = NULL, result = NULL"
    " WHERE id = ? AND status IN ('failed', 'cancelled')"
)

PURGE = (
    "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
    "  INDEXED BY noormme_jobs_finished"
    "  WHERE status IN ('completed', 'cancelled') AND finished_at < ? LIMIT ?)"
)

# -- schedules ---------------------------------------------------------------------------------

_SCHEDULE = ", ".join(f"s.{c}" for c in SCHEDULE_COLUMNS) + ", j.status"
_SCHEDULES = "noormme_schedules s LEFT JOIN noormme_jobs j ON j.id = s.last_job_id"
_SAME_TIMING = (
    "noormme_schedules.cron IS excluded.cron AND noormme_schedules.every IS excluded.every"
    " AND noormme_schedules.timezone = excluded.timezone"
)

# Create, or update in place: the next tick is kept while the timing stays the same, and an
# identical definition is left alone (its revision too, so no fire under way is spoilt).
SAVE_SCHEDULE = (
    "INSERT INTO noormme_schedules (name, job, cron, every, timezone, missed, next_run_at,"
    "  created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET job = excluded.job, missed = excluded.missed,"
    "  cron = excluded.cron, every = excluded.every, timezone = excluded.timezone,"
    f"  next_run_at = CASE WHEN {_SAME_TIMING} THEN noormme_schedules.next_run_at"
    "   ELSE excluded.next_run_at END,"
    "  revision = noormme_schedules.revision + 1, updated_at = excluded.updated_at"
    f" WHERE NOT ({_SAME_TIMING} AND noormme_schedules.job = excluded.job"
    "  AND noormme_schedules.missed = excluded.missed)"
)
GET_SCHEDULE = f"SELECT {_SCHEDULE} FROM {_SCHEDULES} WHERE s.name = ?"
LIST_SCHEDULES = f"SELECT {_SCHEDULE} FROM {_SCHEDULES} ORDER BY s.name"
DELETE_SCHEDULE = "DELETE FROM noormme_schedules WHERE name = ?"
PAUSE_SCHEDULE = (
    "UPDATE noormme_schedules SET paused = 1,"
    "  revision = revision + CASE WHEN paused THEN 0 ELSE 1 END, updated_at = ? WHERE name = ?"
)
RESUME_SCHEDULE = (
    "UPDATE noormme_schedules SET paused = 0, next_run_at = ?, revision = revision + 1,"
    "  updated_at = ? WHERE name = ? AND revision = ?"
)
DUE_SCHEDULES = (
    f"SELECT {_SCHEDULE} FROM {_SCHEDULES}"
    " WHERE s.paused = 0 AND s.next_run_at <= ? ORDER BY s.next_run_at LIMIT ?"
)
NEXT_SCHEDULE_AT = "SELECT MIN(next_run_at) FROM noormme_schedules WHERE paused = 0"
# A tick is claimed by this compare-and-set; its jobs are written in the same transaction.
FIRE_SCHEDULE = (
    "UPDATE noormme_schedules SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at)"
    " WHERE name = ? AND revision = ? AND next_run_at = ?"
)
SCHEDULE_LAST_JOB = "UPDATE noormme_schedules SET last_job_id = ? WHERE name = ?"

# -- wake-ups (SQLite only: PostgreSQL has LISTEN/NOTIFY) --------------------------------------

ADD_LISTENER = "INSERT INTO noormme_listeners (name, pid, created_at) VALUES (?, ?, ?)"
REMOVE_LISTENER = "DELETE FROM noormme_listeners WHERE name = ?"
LISTENERS = "SELECT name FROM noormme_listeners"
