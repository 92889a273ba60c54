"""Every SQL statement of the PostgreSQL store, under the same names as ``sqlite/sql.py``.

Diffing the two modules shows only what differs between the dialects: ``%(name)s``
placeholders (``?`` there); arrays (``unnest``) where SQLite runs a statement per row or
builds a ``VALUES`` list for a count; ``FOR UPDATE SKIP LOCKED``; and the few statements
only one dialect has (see ``tests/store/test_sql_modules.py`` for the list). Times are
``double precision`` Unix seconds, as in SQLite: ``now`` is passed in as a float, compared
as a float and read back without conversion, so a job read from either backend is the same
object. Payloads, results and progress are opaque JSON *text* (``jsonb`` would reorder
keys); the attempt history is ``jsonb``, a list this library owns and appends to.

Tables live in the first schema of the connection's ``search_path`` (``public`` unless the
URL says ``options=-csearch_path=...``), prefixed ``noormme_`` so the queue can share a
database with an application. The version lives in our own ``noormme_meta`` table.
Migrations run in one transaction under a transaction-level advisory lock and re-read the
version there, so many processes starting at once migrate exactly once.
"""

from __future__ import annotations

from functools import cache

import psycopg.sql

from ..rows import COLUMNS, SCHEDULE_COLUMNS

_SELECTED = ", ".join("history::text" if c == "history" else c for c in COLUMNS)
_J_SELECTED = ", ".join(f"j.{c}" for c in _SELECTED.split(", "))
_LIVE = "status IN ('pending', 'processing')"
# Every transition of a claimed job is a compare-and-set on its status and claim token.
_HELD = "j.id = v.id AND j.status = 'processing' AND j.claim_token = v.token"
_APPEND_ATTEMPT = "history = j.history || jsonb_build_array(v.attempt)"


def _waking(dml: str, returning_count: int) -> str:
    """``dml`` (a statement with RETURNING) that also notifies listeners, in the same
    transaction, when it returned rows. The notification shows up as one extra row of
    NULLs, which callers skip."""
    nulls = ", ".join(["NULL"] * returning_count)
    return (
        f"WITH changed AS ({dml}),"
        " wake AS (SELECT pg_notify(%(channel)s, %(sender)s)"
        "  WHERE EXISTS (SELECT 1 FROM changed))"
        f" SELECT * FROM changed UNION ALL SELECT {nulls} FROM wake"
    )


# -- schema ------------------------------------------------------------------------------------

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs and the indexes that fit each query below.
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
    # 2: recurring jobs, and the link from a job to the schedule that made it.
    """
    ALTER TABLE noormme_jobs ADD COLUMN schedule text;
    CREATE TABLE noormme_schedules (
        name          text PRIMARY KEY,
        job           text NOT NULL,
        cron          text,
        every         double precision,
        timezone      text NOT NULL,
        missed        text NOT NULL,
        paused        boolean NOT NULL DEFAULT false,
        next_run_at   double precision NOT NULL,
        last_run_at   double precision,
        last_job_id   text,
        revision      bigint NOT NULL DEFAULT 1,
        created_at    double precision NOT NULL,
        updated_at    double precision NOT NULL
    );
    -- the scheduler's due schedules and its next wake-up
    CREATE INDEX noormme_schedules_due ON noormme_schedules (next_run_at) WHERE NOT paused;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

META_DDL = "CREATE TABLE IF NOT EXISTS noormme_meta (key text PRIMARY KEY, value text NOT NULL)"
READ_VERSION = "SELECT value FROM noormme_meta WHERE key = 'schema_version'"
WRITE_VERSION = (
    "INSERT INTO noormme_meta (key, value) VALUES ('schema_version', %(version)s)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Unversioned: a table this library did not create, which it refuses to touch.
JOBS_TABLE_EXISTS = "SELECT 1 WHERE to_regclass('noormme_jobs') IS NOT NULL"

# PostgreSQL only: the schema the tables go in (it names the LISTEN channel), and the lock
# that makes one process of many migrate. Any key works: it only has to be the same in every
# process of every version. LOCK_TIMEOUT bounds the wait for it (SQLite: a busy timeout).
CURRENT_SCHEMA = "SELECT current_schema()"
MIGRATION_LOCK = 0x6E71_6D69_6772  # "nqmigr"
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(%(key)s)"
LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %(timeout)s, true)"
# PostgreSQL only: fresh planner statistics. With stale ones (a bulk load autovacuum has not
# seen yet) the claim sorts every pending row instead of walking its index.
ANALYZE = "ANALYZE noormme_jobs"

# -- enqueue -----------------------------------------------------------------------------------

# A batch in one statement; the first of several jobs with one unique_key wins, as in SQLite.
ENQUEUE = _waking(
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, run_at,"
    "  created_at, retry_policy, unique_key, timeout, schedule)"
    " SELECT id, type, payload, 'pending', priority, max_attempts, run_at, created_at,"
    "  retry_policy, unique_key, timeout, schedule"
    " FROM unnest(%(id)s::text[], %(type)s::text[], %(payload)s::text[], %(priority)s::int[],"
    "  %(max_attempts)s::int[], %(run_at)s::float8[], %(created_at)s::float8[],"
    "  %(retry_policy)s::text[], %(unique_key)s::text[], %(timeout)s::float8[],"
    "  %(schedule)s::text[])"
    "  WITH ORDINALITY AS v(id, type, payload, priority, max_attempts, run_at, created_at,"
    "  retry_policy, unique_key, timeout, schedule, ord)"
    " ORDER BY ord"
    f" ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {_LIVE} DO NOTHING"
    " RETURNING id",
    1,
)

LIVE_BY_UNIQUE_KEY = (
    f"SELECT unique_key, id FROM noormme_jobs WHERE unique_key = ANY(%(keys)s) AND {_LIVE}"
)

# -- claim -------------------------------------------------------------------------------------

# The locking subselect is a MATERIALIZED CTE so that it runs exactly once: the row locks it
# takes (skipping rows other claims hold) decide which jobs this claim gets.
CLAIM = (
    "WITH picked AS MATERIALIZED ("
    " SELECT id FROM noormme_jobs"
    " WHERE status = 'pending' AND run_at <= %(now)s AND type = ANY(%(types)s::text[])"
    " ORDER BY priority DESC, run_at, id"
    " LIMIT %(limit)s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE noormme_jobs j SET status = 'processing', attempts = j.attempts + 1,"
    "  claim_token = %(token)s, worker_id = %(worker_id)s, lease_until = %(lease_until)s,"
    "  started_at = %(now)s"
    " FROM picked WHERE j.id = picked.id"
    f" RETURNING {_J_SELECTED}"
)

# One index seek per type (a LATERAL LIMIT 1 on the (type, run_at) index).
NEXT_DUE = (
    "SELECT MIN(due.run_at) FROM unnest(%(types)s::text[]) AS t(type)"
    " CROSS JOIN LATERAL (SELECT run_at FROM noormme_jobs j"
    "  WHERE j.status = 'pending' AND j.type = t.type ORDER BY run_at LIMIT 1) AS due"
)

# A claimed (or expired) row that no Job can hold: failed with why.
FAIL_UNREADABLE = (
    "UPDATE noormme_jobs SET status = 'failed', error = %(error)s, finished_at = %(now)s,"
    "  claim_token = NULL, lease_until = NULL"
    " WHERE id = %(id)s AND status = 'processing' AND claim_token = %(token)s"
)

# -- settle ------------------------------------------------------------------------------------

COMPLETE = (
    "UPDATE noormme_jobs j SET status = 'completed', result = v.result, error = NULL,"
    "  finished_at = %(now)s, claim_token = NULL, lease_until = NULL, "
    + _APPEND_ATTEMPT
    + " FROM unnest(%(c_id)s::text[], %(c_token)s::text[], %(c_result)s::text[],"
    "  %(c_attempt)s::jsonb[]) AS v(id, token, result, attempt)"
    f" WHERE {_HELD} RETURNING j.id"
)
FAIL = (
    "UPDATE noormme_jobs j SET status = 'failed', error = v.error, finished_at = %(now)s,"
    "  claim_token = NULL, lease_until = NULL, "
    + _APPEND_ATTEMPT
    + " FROM unnest(%(f_id)s::text[], %(f_token)s::text[], %(f_error)s::text[],"
    "  %(f_attempt)s::jsonb[]) AS v(id, token, error, attempt)"
    f" WHERE {_HELD} RETURNING j.id"
)
RETRY_LATER = (
    "UPDATE noormme_jobs j SET status = 'pending', error = v.error, run_at = v.retry_at,"
    "  claim_token = NULL, lease_until = NULL, "
    + _APPEND_ATTEMPT
    + " FROM unnest(%(l_id)s::text[], %(l_token)s::text[], %(l_error)s::text[],"
    "  %(l_retry_at)s::float8[], %(l_attempt)s::jsonb[]) AS v(id, token, error, retry_at, attempt)"
    f" WHERE {_HELD} RETURNING j.id"
)
RELEASE = (
    "UPDATE noormme_jobs j SET status = 'pending', attempts = j.attempts - 1,"
    "  claim_token = NULL, lease_until = NULL"
    " FROM unnest(%(r_id)s::text[], %(r_token)s::text[]) AS v(id, token)"
    f" WHERE {_HELD} RETURNING j.id"
)
# PostgreSQL only: all four kinds of outcome in one statement, whatever the batch's size
# (SQLite has no data-modifying CTEs; its statements run in-process, in one transaction).
SETTLE = (
    f"WITH c AS ({COMPLETE}), f AS ({FAIL}), l AS ({RETRY_LATER}), r AS ({RELEASE})"
    " SELECT 'c', id FROM c UNION ALL SELECT 'f', id FROM f"
    " UNION ALL SELECT 'l', id FROM l UNION ALL SELECT 'r', id FROM r"
)

# -- leases and progress -----------------------------------------------------------------------

EXTEND_LEASES = (
    "UPDATE noormme_jobs j SET lease_until = %(lease_until)s"
    " FROM unnest(%(ids)s::text[], %(tokens)s::text[]) AS v(id, token)"
    f" WHERE {_HELD} RETURNING j.id"
)

# Processing jobs are few (at most every worker's concurrency): the status index.
EXPIRED_LEASES = (
    f"SELECT {_SELECTED}, claim_token FROM noormme_jobs"
    " WHERE status = 'processing' AND lease_until < %(now)s LIMIT %(limit)s"
)

SAVE_PROGRESS = (
    "UPDATE noormme_jobs SET progress = %(progress)s"
    " WHERE id = %(id)s AND status = 'processing' AND claim_token = %(token)s"
)

# -- reads -------------------------------------------------------------------------------------

GET = f"SELECT {_SELECTED} FROM noormme_jobs WHERE id = %(id)s"


@cache
def LIST_JOBS(by_status: bool, by_type: bool, paged: bool) -> str:
    """Newest first; ``paged`` goes on below the id of the previous page's last job.
    Parameters: status, type, before (those asked for), limit."""
    clauses = [
        clause
        for clause, used in (
            ("status = %(status)s", by_status),
            ("type = %(type)s", by_type),
            ("id < %(before)s", paged),
        )
        if used
    ]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {_SELECTED} FROM noormme_jobs{where} ORDER BY id DESC LIMIT %(limit)s"


STATS = "SELECT status, COUNT(*) FROM noormme_jobs GROUP BY status"

# A loose index scan over the (type, run_at) index: one seek per distinct type.
PENDING_TYPES = (
    "WITH RECURSIVE t(type) AS ("
    " SELECT MIN(type) FROM noormme_jobs WHERE status = 'pending'"
    " UNION ALL"
    " SELECT (SELECT MIN(type) FROM noormme_jobs WHERE status = 'pending' AND type > t.type)"
    " FROM t WHERE t.type IS NOT NULL"
    ") SELECT type FROM t WHERE type IS NOT NULL"
)

# Completed jobs are many: a range of the partial index on finished_at; failed jobs, the
# dead-letter record, are few: by status.
FINISHED_COUNTS = (
    "SELECT floor((finished_at - %(since)s) / %(width)s)::bigint AS bucket,"
    " count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')"
    " FROM ("
    "  SELECT status, finished_at FROM noormme_jobs"
    "   WHERE status = 'completed' AND finished_at >= %(since)s"
    "  UNION ALL"
    "  SELECT status, finished_at FROM noormme_jobs"
    "   WHERE status = 'failed' AND finished_at >= %(since)s"
    " ) f GROUP BY bucket ORDER BY bucket"
)

# -- control -----------------------------------------------------------------------------------

# The row is locked before its status is read, so the status returned is the one replaced.
CANCEL = (
    "UPDATE noormme_jobs j SET status = 'cancelled', finished_at = %(now)s,"
    "  claim_token = NULL, lease_until = NULL"
    f" FROM (SELECT id, status FROM noormme_jobs WHERE id = %(id)s AND {_LIVE} FOR UPDATE) old"
    " WHERE j.id = old.id RETURNING old.status"
)

RETRY = _waking(
    "UPDATE noormme_jobs SET status = 'pending', attempts = 0, run_at = %(now)s,"
    "  started_at = NULL, finished_at = NULL, error = NULL, result = NULL"
    " WHERE id = %(id)s AND status IN ('failed', 'cancelled') RETURNING id",
    1,
)

PURGE = (
    "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
    "  WHERE status IN ('completed', 'cancelled') AND finished_at < %(before)s"
    "  LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
)

# -- schedules ---------------------------------------------------------------------------------

_SCHEDULE = ", ".join(f"s.{c}" for c in SCHEDULE_COLUMNS) + ", j.status"
_SCHEDULES = "noormme_schedules s LEFT JOIN noormme_jobs j ON j.id = s.last_job_id"
_SAME_TIMING = (
    "s.cron IS NOT DISTINCT FROM excluded.cron AND s.every IS NOT DISTINCT FROM excluded.every"
    " AND s.timezone = excluded.timezone"
)

# Create, or update in place: the next tick is kept while the timing stays the same, and an
# identical definition is left alone (its revision too, so no fire under way is spoilt).
SAVE_SCHEDULE = (
    "INSERT INTO noormme_schedules AS s (name, job, cron, every, timezone, missed, next_run_at,"
    "  created_at, updated_at) VALUES (%(name)s, %(job)s, %(cron)s, %(every)s, %(timezone)s,"
    "  %(missed)s, %(next_run_at)s, %(now)s, %(now)s)"
    " ON CONFLICT (name) DO UPDATE SET job = excluded.job, missed = excluded.missed,"
    "  cron = excluded.cron, every = excluded.every, timezone = excluded.timezone,"
    f"  next_run_at = CASE WHEN {_SAME_TIMING} THEN s.next_run_at"
    "   ELSE excluded.next_run_at END,"
    "  revision = s.revision + 1, updated_at = excluded.updated_at"
    f" WHERE NOT ({_SAME_TIMING} AND s.job = excluded.job AND s.missed = excluded.missed)"
)
GET_SCHEDULE = f"SELECT {_SCHEDULE} FROM {_SCHEDULES} WHERE s.name = %(name)s"
LIST_SCHEDULES = f"SELECT {_SCHEDULE} FROM {_SCHEDULES} ORDER BY s.name"
DELETE_SCHEDULE = "DELETE FROM noormme_schedules WHERE name = %(name)s"
PAUSE_SCHEDULE = (
    "UPDATE noormme_schedules SET paused = true,"
    "  revision = revision + CASE WHEN paused THEN 0 ELSE 1 END, updated_at = %(now)s"
    " WHERE name = %(name)s"
)
RESUME_SCHEDULE = (
    "UPDATE noormme_schedules SET paused = false, next_run_at = %(next_run_at)s,"
    "  revision = revision + 1, updated_at = %(now)s"
    " WHERE name = %(name)s AND revision = %(revision)s"
)
DUE_SCHEDULES = (
    f"SELECT {_SCHEDULE} FROM {_SCHEDULES}"
    " WHERE NOT s.paused AND s.next_run_at <= %(now)s ORDER BY s.next_run_at LIMIT %(limit)s"
)
NEXT_SCHEDULE_AT = "SELECT MIN(next_run_at) FROM noormme_schedules WHERE NOT paused"
# A tick is claimed by this compare-and-set (a second process waits for the row lock, then
# finds next_run_at moved on); its jobs are written in the same transaction.
FIRE_SCHEDULE = (
    "UPDATE noormme_schedules SET next_run_at = %(new_next_run_at)s,"
    "  last_run_at = COALESCE(%(ran_at)s, last_run_at)"
    " WHERE name = %(name)s AND revision = %(revision)s AND next_run_at = %(next_run_at)s"
)
SCHEDULE_LAST_JOB = "UPDATE noormme_schedules SET last_job_id = %(job_id)s WHERE name = %(name)s"

# -- wake-ups (PostgreSQL only: SQLite's workers register in noormme_listeners instead) --------

NOTIFY = "SELECT pg_notify(%(channel)s, %(sender)s)"
# .format(Identifier(channel)): a channel name cannot be a parameter.
LISTEN = psycopg.sql.SQL("LISTEN {}")
