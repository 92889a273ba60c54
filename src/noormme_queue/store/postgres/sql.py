"""Every SQL statement of the PostgreSQL store, under the same names as ``sqlite/sql.py``.

Diffing the two modules shows only what differs between the dialects: ``%(name)s``
placeholders (``?`` there); a batch's rows as one JSON text (``jsonb_array_elements``;
psycopg dumps an array element by element in Python) and lists as binary arrays (``%(name)b``)
where SQLite runs a statement per row or builds a ``VALUES`` list; ``FOR UPDATE SKIP
LOCKED``; the few statements only one dialect has (``tests/store/test_sql_modules.py``).
Times are ``double precision`` Unix seconds, as in SQLite, passed, compared and read back as
floats (JSON numbers are written exactly), so a job read from either backend is the same
object. Payloads, results and progress are opaque JSON *text* (``jsonb`` would reorder
keys); the attempt history is ``jsonb``, a list this library owns and appends to.

Where the tables live and how they are migrated: ``schema.py``.
"""

from __future__ import annotations

from functools import cache

import psycopg.sql

from ..presence import WORKER_COLUMNS
from ..rows import COLUMNS, SCHEDULE_COLUMNS

_SELECTED = ", ".join("history::text" if c == "history" else c for c in COLUMNS)
_J_SELECTED = ", ".join(f"j.{c}" for c in _SELECTED.split(", "))
_LIVE = "status IN ('pending', 'scheduled', 'processing')"
# Every transition of a claimed job is a compare-and-set on its status and claim token.
_HELD = "j.id = v.id AND j.status = 'processing' AND j.claim_token = v.token"
_APPEND_ATTEMPT = "history = j.history || jsonb_build_array(v.attempt)"
# A job's timeline is in its row (store/events.py): each change appends its events; the
# claimed event is built here, since only the row knows its attempt number.
_APPEND_EVENTS = "events = j.events || v.events"
_CLAIMED_EVENT = (
    "events = j.events || jsonb_build_array(jsonb_build_array(%(now)s::float8, 'claimed',"
    "  %(worker_id)s::text, NULL, j.attempts + 1, NULL))"
)


def _rows(param: str, columns: str) -> str:
    """A batch's rows (``records`` in pool.py: a JSON array of arrays) as a subquery ``v`` of
    ``columns`` ("name type, ..."), in order, with its position ``ord``."""
    cols = enumerate(c.split() for c in columns.split(", "))
    picked = ", ".join(f"(e->>{n})::{type_} AS {name}" for n, (name, type_) in cols)
    source = f"jsonb_array_elements(%({param})s::jsonb) WITH ORDINALITY AS x(e, ord)"
    return f"(SELECT {picked}, x.ord FROM {source}) v"


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


# -- enqueue -----------------------------------------------------------------------------------

_NEW_ROWS = _rows(
    "jobs",
    "id text, type text, payload text, status text, priority int, max_attempts int, budget int,"
    " run_at float8, created_at float8, retry_policy text, unique_key text, timeout float8,"
    " queue text, limit_key text, schedule text, traceparent text, events jsonb",
)
# A batch in one statement; the first of several jobs with one unique_key wins, as in SQLite.
# No queue given: its type's stored one, by one join (not a lookup per row: jit_above_cost).
ENQUEUE = _waking(
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, budget,"
    "  run_at, created_at, retry_policy, unique_key, timeout, queue, limit_key, schedule,"
    "  traceparent, events)"
    " SELECT v.id, v.type, v.payload, v.status, v.priority, v.max_attempts, v.budget,"
    "  v.run_at, v.created_at, v.retry_policy, v.unique_key, v.timeout,"
    "  COALESCE(v.queue, t.queue, 'default'), v.limit_key, v.schedule, v.traceparent, v.events"
    f" FROM {_NEW_ROWS} LEFT JOIN noormme_types t ON v.queue IS NULL AND t.type = v.type"
    " ORDER BY v.ord"
    f" ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {_LIVE} DO NOTHING"
    " RETURNING id",
    1,
)

# Which database a connection writes to: enqueue_on joins only a transaction on the queue's.
DATABASE_IDENTITY = "SELECT current_database(), current_schema(), pg_postmaster_start_time()"

LIVE_BY_UNIQUE_KEY = (
    f"SELECT unique_key, id FROM noormme_jobs WHERE unique_key = ANY(%(keys)s) AND {_LIVE}"
)

# -- claim (postgres/claim.py: which statement when) -----------------------------------------
STAGE = (
    "UPDATE noormme_jobs SET status = 'pending' WHERE id = ANY(ARRAY(SELECT id FROM noormme_jobs"
    "  WHERE status = 'scheduled' AND run_at <= %(now)s ORDER BY run_at LIMIT %(stage)s"
    "  FOR UPDATE SKIP LOCKED))"
)
_LIMITED = "(t.concurrency IS NOT NULL OR t.rate_count IS NOT NULL)"
_PAIRS = (
    "SELECT c.queue, c.type FROM noormme_counts c WHERE c.status = 'pending'"
    " GROUP BY c.queue, c.type HAVING sum(c.n) > 0"
)
PAUSED_QUEUES = "SELECT name FROM noormme_queues WHERE paused"

# The (queue, type) pairs with due jobs a claim may take (of its types and queues, not
# paused), from the kept counts, each with how many it may take.
_WANTED_PAIRS = (
    "budgets AS (SELECT * FROM unnest(%(queues)b::text[], %(budgets)b::int[]) AS b(queue, n)),"
    " pairs AS MATERIALIZED (SELECT p.queue, p.type, LEAST(COALESCE(b.n, %(limit)s), %(limit)s)"
    f"  AS budget FROM ({_PAIRS}) p LEFT JOIN budgets b ON b.queue = p.queue"
    "  WHERE p.type = ANY(%(types)b::text[]) AND (%(all_queues)s OR b.queue IS NOT NULL)"
    "  AND NOT EXISTS (SELECT 1 FROM noormme_queues q WHERE q.name = p.queue AND q.paused)"
)
# A pair's first due jobs, by a seek of the claim index.
_SEEK = (
    "(SELECT id, queue, limit_key, priority, run_at FROM noormme_jobs"
    "   WHERE status = 'pending' AND queue = p.queue AND type = p.type AND run_at <= %(now)s"
    "   ORDER BY priority DESC, run_at, id LIMIT p.budget FOR UPDATE SKIP LOCKED) c"
)

# Stage; read the first due jobs of each wanted pair without limits (SKIP LOCKED); keep each
# queue's budget; mark the first `limit` by primary key (ARRAY(...): a join scanned the table).
# Rows: 'j' and a claimed job's columns; last, 't', the staged count and the next due time.
_READY = (
    f"staged AS ({STAGE} RETURNING 1), {_WANTED_PAIRS}"
    f"  AND NOT EXISTS (SELECT 1 FROM noormme_types t WHERE t.type = p.type AND {_LIMITED})),"
    f" cand AS MATERIALIZED (SELECT c.id, c.queue, c.priority, c.run_at, p.budget"
    f"  FROM pairs p CROSS JOIN LATERAL {_SEEK}),"
    " picked AS (SELECT id FROM (SELECT id, priority, run_at, budget, row_number()"
    "   OVER (PARTITION BY queue ORDER BY priority DESC, run_at, id) AS rank FROM cand) r"
    "  WHERE rank <= budget ORDER BY priority DESC, run_at, id LIMIT %(limit)s),"
    " claimed AS (UPDATE noormme_jobs j SET status = 'processing', attempts = j.attempts + 1,"
    "  claim_token = %(token)s, worker_id = %(worker_id)s, lease_until = %(lease_until)s,"
    f"  started_at = %(now)s, {_CLAIMED_EVENT} WHERE j.id = ANY(ARRAY(SELECT id FROM picked))"
    f"  RETURNING {_J_SELECTED})"
)
_NULLS = ", ".join(["NULL"] * len(COLUMNS))
_CLAIMED = "SELECT 'j', *, NULL::bigint, NULL::float8 FROM claimed"
_TRAILER = (
    f" UNION ALL SELECT 't', {_NULLS}, (SELECT count(*) FROM staged),"
    "  (SELECT min(run_at) FROM noormme_jobs WHERE status = 'scheduled')"
)
CLAIM_READY = f"WITH {_READY} {_CLAIMED}{_TRAILER}"

# PostgreSQL only: a limited claim's first page of every wanted pair (one with none: a row of
# NULLs), each job with its key's starts in the window (SQLite: CANDIDATES, RATE_USAGE).
PLANNED_CANDIDATES = (
    f"WITH {_WANTED_PAIRS})"
    " SELECT p.queue, p.type, p.budget, c.id, c.limit_key, c.priority, c.run_at, r.n"
    f" FROM pairs p LEFT JOIN LATERAL {_SEEK} ON true"
    " LEFT JOIN noormme_rates r ON r.type = p.type AND r.limit_key = COALESCE(c.limit_key, '')"
)

TYPE_LIMITS = (
    "SELECT type, concurrency, rate_count, rate_window FROM noormme_types t"
    f" WHERE {_LIMITED} AND type = ANY(%(types)b::text[]) ORDER BY type FOR UPDATE"
)
# PostgreSQL only: a limited claim's first statement: TYPE_LIMITS's locks (NOWAIT: claim.py),
# STAGE, for rates CLAIM_CLOCK and FORGET_STARTS (the `forget` oldest; more wait their turn).
_LOCK_LIMITS = (
    "WITH locked AS MATERIALIZED ({types}),"
    f" staged AS ({STAGE}),"
    " clock AS (INSERT INTO noormme_meta (key, value)"
    "  SELECT 'claim_clock', (%(now)s::float8)::text"
    "  WHERE (SELECT count(*) FROM locked WHERE rate_window IS NOT NULL) > 0"
    "  ON CONFLICT (key) DO UPDATE"
    "  SET value = greatest(noormme_meta.value::float8, excluded.value::float8)::text"
    "  RETURNING value::float8 AS now),"
    " gone AS (DELETE FROM noormme_starts WHERE ctid = ANY(ARRAY(SELECT o.ctid FROM locked l"
    "  CROSS JOIN clock c CROSS JOIN LATERAL (SELECT ctid FROM noormme_starts WHERE type = l.type"
    "  AND started_at <= c.now - l.rate_window ORDER BY started_at LIMIT %(forget)s) o))"
    "  RETURNING type, limit_key),"
    " forgot AS (UPDATE noormme_rates r SET n = r.n - g.n"
    "  FROM (SELECT type, limit_key, count(*) AS n FROM gone GROUP BY type, limit_key) g"
    "  WHERE r.type = g.type AND r.limit_key = g.limit_key)"
    " SELECT l.*, (SELECT now FROM clock) FROM locked l"
)
LOCK_LIMITS = _LOCK_LIMITS.format(types=TYPE_LIMITS)
LOCK_LIMITS_NOWAIT = _LOCK_LIMITS.format(types=TYPE_LIMITS + " NOWAIT")
RUNNING_BY_KEY = (
    "SELECT limit_key, count(*) FROM noormme_jobs"
    " WHERE status = 'processing' AND type = %(type)s GROUP BY limit_key"
)
RATE_USAGE = (
    "SELECT limit_key, n FROM noormme_rates"
    " WHERE type = %(type)s AND limit_key = ANY(%(keys)b::text[])"
)
OLDEST_START = (
    "SELECT min(started_at) FROM noormme_starts"
    " WHERE type = %(type)s AND limit_key = %(key)s AND started_at > %(since)s"
)
CANDIDATES = (
    "SELECT id, limit_key, priority, run_at FROM noormme_jobs"
    " WHERE status = 'pending' AND queue = %(queue)s AND type = %(type)s AND run_at <= %(now)s"
    " ORDER BY priority DESC, run_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
CLAIM = (
    "UPDATE noormme_jobs j SET status = 'processing', attempts = j.attempts + 1,"
    "  claim_token = %(token)s, worker_id = %(worker_id)s, lease_until = %(lease_until)s,"
    f"  started_at = %(now)s, {_CLAIMED_EVENT}"
    " WHERE j.status = 'pending' AND j.id = ANY(%(ids)b::text[])"
    f" RETURNING {_J_SELECTED}"
)
RECORD_START = (
    "INSERT INTO noormme_starts (type, limit_key, started_at)"
    " SELECT type, limit_key, %(now)s FROM unnest(%(start_types)b::text[], %(start_keys)b::text[])"
    "  AS v(type, limit_key)"
)
COUNT_STARTS = (
    "INSERT INTO noormme_rates (type, limit_key, n)"
    " SELECT type, limit_key, count(*) FROM unnest(%(start_types)b::text[], %(start_keys)b::text[])"
    "  AS v(type, limit_key) GROUP BY type, limit_key"
    " ON CONFLICT (type, limit_key) DO UPDATE SET n = noormme_rates.n + excluded.n"
)
NEXT_DUE = "SELECT min(run_at) FROM noormme_jobs WHERE status = 'scheduled'"

# PostgreSQL only (data-modifying CTEs): a limited claim's last statement: CLAIM, RECORD_START,
# COUNT_STARTS, and in an extra last row NEXT_DUE.
CLAIM_PLANNED = (
    f"WITH claimed AS ({CLAIM}), recorded AS ({RECORD_START}), counted AS ({COUNT_STARTS})"
    f" SELECT *, NULL::float8 FROM claimed UNION ALL SELECT {_NULLS}, ({NEXT_DUE})"
)

# A claimed (or expired) row that no Job can hold: failed with why.
FAIL_UNREADABLE = (
    "UPDATE noormme_jobs SET status = 'failed', error = %(error)s, finished_at = %(now)s,"
    "  claim_token = NULL, lease_until = NULL, events = events || %(events)s::jsonb"
    " WHERE id = %(id)s AND status = 'processing' AND claim_token = %(token)s"
)

# -- settle ------------------------------------------------------------------------------------

_HELD_ROW = "id text, token text"  # then each kind's own columns
COMPLETE = (
    "UPDATE noormme_jobs j SET status = 'completed', result = v.result, error = NULL,"
    f"  finished_at = %(now)s, claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}"
    f" FROM {_rows('c', f'{_HELD_ROW}, result text, attempt jsonb')} WHERE {_HELD} RETURNING j.id"
)
FAIL = (
    "UPDATE noormme_jobs j SET status = 'failed', error = v.error, finished_at = %(now)s,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}, {_APPEND_EVENTS} FROM"
    f" {_rows('f', f'{_HELD_ROW}, error text, attempt jsonb, events jsonb')}"
    f" WHERE {_HELD} RETURNING j.id"
)
RETRY_LATER = (
    "UPDATE noormme_jobs j SET error = v.error, run_at = v.retry_at,"
    "  status = CASE WHEN v.retry_at <= %(now)s THEN 'pending' ELSE 'scheduled' END,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}, {_APPEND_EVENTS} FROM"
    f" {_rows('l', f'{_HELD_ROW}, error text, retry_at float8, attempt jsonb, events jsonb')}"
    f" WHERE {_HELD} RETURNING j.id"
)
RELEASE = (
    "UPDATE noormme_jobs j SET status = 'pending', attempts = j.attempts - 1,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_EVENTS}"
    f" FROM {_rows('r', f'{_HELD_ROW}, events jsonb')} WHERE {_HELD} RETURNING j.id"
)
_KINDS = {"c": COMPLETE, "f": FAIL, "l": RETRY_LATER, "r": RELEASE}  # SQLite: one per kind


@cache
def SETTLE(kinds: str) -> str:
    """PostgreSQL only: the outcomes of ``kinds`` ("cflr" of _KINDS) in one; (kind, id)s."""
    ctes = ", ".join(f"{kind} AS ({_KINDS[kind]})" for kind in kinds)
    return f"WITH {ctes} " + " UNION ALL ".join(f"SELECT '{k}', id FROM {k}" for k in kinds)


@cache
def SETTLE_AND_CLAIM(kinds: str) -> str:
    """PostgreSQL only: SETTLE(kinds) and CLAIM_READY in one statement (one snapshot: jobs
    the settle makes due are claimable from the next one); CLAIM_READY's rows, (kind, id)s."""
    ctes = "".join(f"{kind} AS ({_KINDS[kind]}), " for kind in kinds)
    settled = "".join(f" UNION ALL SELECT '{k}', id, {_NULLS}, NULL FROM {k}" for k in kinds)
    return f"WITH {ctes}{_READY} {_CLAIMED}{settled}{_TRAILER}"


# -- leases and progress -----------------------------------------------------------------------

EXTEND_LEASES = (
    "UPDATE noormme_jobs j SET lease_until = %(lease_until)s"
    f" FROM {_rows('held', _HELD_ROW)} WHERE {_HELD} RETURNING j.id"
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
# A job's timeline: its row's events (store/events.py), by primary key.
JOB_EVENTS = (
    "SELECT events::text, status, finished_at, worker_id, attempts FROM noormme_jobs"
    " WHERE id = %(id)s"
)


@cache
def LIST_JOBS(statuses: int, by_type: bool, by_queue: bool, paged: bool) -> str:
    """Newest first; ``paged``: below the id of the previous page's last job. With
    statuses, one arm per stored status, each seeking the (status, id) index newest first up
    to the limit, merged; ``status = ANY(ARRAY[...])`` ordered ``status DESC, id DESC`` (with
    ``status = ...`` the planner walks the primary key, past every newer job). Parameters:
    status0, status1, ..., type, queue, before (those asked for), limit."""
    clauses = [
        clause
        for clause, used in (
            ("type = %(type)s", by_type),
            ("queue = %(queue)s", by_queue),
            ("id < %(before)s", paged),
        )
        if used
    ]
    if not statuses:
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return f"SELECT {_SELECTED} FROM noormme_jobs{where} ORDER BY id DESC LIMIT %(limit)s"
    arms = [
        f"(SELECT {_SELECTED} FROM noormme_jobs WHERE"
        f" {' AND '.join([f'status = ANY(ARRAY[%(status{n})s]::text[])', *clauses])}"
        " ORDER BY status DESC, id DESC LIMIT %(limit)s)"
        for n in range(statuses)
    ]
    if statuses == 1:
        return arms[0][1:-1]
    return f"{' UNION ALL '.join(arms)} ORDER BY id DESC LIMIT %(limit)s"


# Kept counts: a few rows, whatever the number of jobs.
STATS = "SELECT status, sum(n) FROM noormme_counts GROUP BY status"
# One queue's: a seek of the counts' key, (queue, type, status, shard).
QUEUE_STATS = "SELECT status, sum(n) FROM noormme_counts WHERE queue = %(queue)s GROUP BY status"
QUEUE_COUNTS = "SELECT queue, status, sum(n) FROM noormme_counts GROUP BY queue, status"
PENDING_TYPES = (
    "SELECT type FROM noormme_counts WHERE status IN ('pending', 'scheduled')"
    " GROUP BY type HAVING sum(n) > 0 ORDER BY type"
)
FINISHED_MINUTES = (
    "SELECT minute, sum(completed), sum(failed) FROM noormme_minutes"
    " WHERE minute >= %(minute)s GROUP BY minute HAVING sum(completed) + sum(failed) > 0"
    " ORDER BY minute"
)

# Buckets that are not whole minutes: from the jobs (completed: a range of the partial
# index on finished_at; failed, the few dead letters: by status).
FINISHED_COUNTS = (
    "SELECT floor((finished_at - %(since)s) / %(width)s)::bigint AS bucket,"
    " count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')"
    " FROM (SELECT status, finished_at FROM noormme_jobs"
    "  WHERE status = 'completed' AND finished_at >= %(since)s UNION ALL"
    "  SELECT status, finished_at FROM noormme_jobs WHERE status = 'failed'"
    "  AND finished_at >= %(since)s) f GROUP BY bucket ORDER BY bucket"
)

# -- queues and job types ----------------------------------------------------------------------

QUEUES = "SELECT name, paused FROM noormme_queues"
SET_PAUSED = (
    "INSERT INTO noormme_queues (name, paused, updated_at) VALUES (%(name)s, %(paused)s, %(now)s)"
    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at"
    " WHERE noormme_queues.paused <> excluded.paused"
)
QUEUE_PAUSED = "SELECT paused FROM noormme_queues WHERE name = %(name)s FOR UPDATE"
TYPES = (
    "SELECT type, queue, concurrency, rate_count, rate_window, defined_by, updated_at"
    " FROM noormme_types ORDER BY type"
)
GET_TYPE = (
    "SELECT type, queue, concurrency, rate_count, rate_window, defined_by, updated_at"
    " FROM noormme_types WHERE type = %(type)s FOR UPDATE"
)
DEFINE_TYPE = (
    "INSERT INTO noormme_types (type, queue, concurrency, rate_count, rate_window,"
    "  defined_by, updated_at) VALUES (%(type)s, %(queue)s, %(concurrency)s, %(rate_count)s,"
    "  %(rate_window)s, %(defined_by)s, %(updated_at)s)"
    " ON CONFLICT (type) DO UPDATE SET queue = excluded.queue, concurrency = excluded.concurrency,"
    "  rate_count = excluded.rate_count, rate_window = excluded.rate_window,"
    "  defined_by = excluded.defined_by, updated_at = excluded.updated_at"
)

# -- control -----------------------------------------------------------------------------------

# The row is locked before its status is read, so the status returned is the one replaced.
CANCEL = (
    "UPDATE noormme_jobs j SET status = 'cancelled', finished_at = %(now)s,"
    "  claim_token = NULL, lease_until = NULL, events = j.events || %(events)s::jsonb"
    f" FROM (SELECT id, status FROM noormme_jobs WHERE id = %(id)s AND {_LIVE} FOR UPDATE) old"
    " WHERE j.id = old.id RETURNING old.status"
)
# A manual retry: the attempts go on counting; max_attempts grows by the job's budget.
RETRYABLE = (
    "SELECT attempts, COALESCE(budget, max_attempts) FROM noormme_jobs"
    " WHERE id = %(id)s AND status IN ('failed', 'cancelled') FOR UPDATE"
)
RETRY = _waking(
    "UPDATE noormme_jobs SET status = 'pending', max_attempts = %(max_attempts)s,"
    "  run_at = %(now)s, started_at = NULL, finished_at = NULL, error = NULL, result = NULL,"
    "  events = events || %(events)s::jsonb"
    " WHERE id = %(id)s AND status IN ('failed', 'cancelled') RETURNING id",
    1,
)
PURGE = (
    "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
    "  WHERE status IN ('completed', 'cancelled') AND finished_at < %(before)s"
    "  LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
)
PURGE_MINUTES = "DELETE FROM noormme_minutes WHERE minute < %(minute)s"

# -- schedules ---------------------------------------------------------------------------------

_SCHEDULE = ", ".join(f"s.{c}" for c in SCHEDULE_COLUMNS) + ", j.status"
_SCHEDULES = "noormme_schedules s LEFT JOIN noormme_jobs j ON j.id = s.last_job_id"
_SAME_TIMING = (
    "s.cron IS NOT DISTINCT FROM excluded.cron AND s.every IS NOT DISTINCT FROM excluded.every"
    " AND s.timezone = excluded.timezone"
)

# Create or update in place (same timing: same next tick; identical: untouched, revision too).
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
# A tick is claimed by this compare-and-set (a rival waits for the row lock, then finds
# next_run_at moved on); its jobs are written in the same transaction.
FIRE_SCHEDULE = (
    "UPDATE noormme_schedules SET next_run_at = %(new_next_run_at)s,"
    "  last_run_at = COALESCE(%(ran_at)s, last_run_at)"
    " WHERE name = %(name)s AND revision = %(revision)s AND next_run_at = %(next_run_at)s"
)
SCHEDULE_LAST_JOB = "UPDATE noormme_schedules SET last_job_id = %(job_id)s WHERE name = %(name)s"

# -- workers, activity and health -------------------------------------------------------------

# The database's clock: only compared with the worker's (the doctor's clock skew).
_DATABASE_CLOCK = "extract(epoch FROM clock_timestamp())::double precision"
DATABASE_CLOCK = f"SELECT {_DATABASE_CLOCK}"
_WORKER_SET = ", ".join(f"{c} = excluded.{c}" for c in WORKER_COLUMNS if c not in ("id",))
BEAT = (
    f"INSERT INTO noormme_workers ({', '.join(WORKER_COLUMNS)}) VALUES (%(id)s, %(host)s,"
    "  %(pid)s, %(queues)s, %(concurrency)s, %(types)s, %(jobs)s, %(started_at)s,"
    f"  %(heartbeat_at)s, %(expires_at)s, {_DATABASE_CLOCK})"
    f" ON CONFLICT (id) DO UPDATE SET {_WORKER_SET}"
)
# The table holds a row per live worker (and the dead ones until the next heartbeat).
AGE_OUT_WORKERS = "DELETE FROM noormme_workers WHERE expires_at < %(now)s AND id <> %(id)s"
FORGET_WORKER = "DELETE FROM noormme_workers WHERE id = %(id)s"
LIVE_WORKERS = (
    f"SELECT {', '.join(WORKER_COLUMNS)} FROM noormme_workers"
    " WHERE expires_at >= %(now)s ORDER BY id"
)
# A range of the primary key (minute, queue, shard): minutes x queues x shards rows.
ACTIVITY = (
    "SELECT minute, queue, sum(completed), sum(failed), sum(started), sum(wait_sum),"
    "  max(wait_max) FROM noormme_minutes WHERE minute >= %(minute)s"
    " GROUP BY minute, queue ORDER BY minute, queue"
)
# Processing jobs are few (at most every worker's concurrency): the status index.
STUCK_LEASES = (
    "SELECT id, type, worker_id, lease_until FROM noormme_jobs"
    " WHERE status = 'processing' AND lease_until < %(before)s ORDER BY lease_until"
    " LIMIT %(limit)s"
)
COUNT_STUCK = (
    "SELECT count(*) FROM noormme_jobs WHERE status = 'processing' AND lease_until < %(before)s"
)

# -- wake-ups (PostgreSQL only: SQLite's workers register in noormme_listeners instead) --------

NOTIFY = "SELECT pg_notify(%(channel)s, %(sender)s)"
# .format(Identifier(channel)): a channel name cannot be a parameter.
LISTEN = psycopg.sql.SQL("LISTEN {}")
