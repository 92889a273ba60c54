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

from ..presence import WORKER_COLUMNS
from ..rows import COLUMNS, SCHEDULE_COLUMNS

_SELECTED = ", ".join(COLUMNS)
_LIVE = "status IN ('pending', 'scheduled', 'processing')"
# Every transition of a claimed job is a compare-and-set on its status and claim token.
_HELD = "id = ? AND status = 'processing' AND claim_token = ?"
_APPEND_ATTEMPT = "history = json_insert(history, '$[#]', json(?))"
# A job's timeline is in its row (store/events.py): each change appends its events.
_APPEND_EVENT = "events = json_insert(events, '$[#]', json(?))"

# -- enqueue -----------------------------------------------------------------------------------

# The file a connection writes to: enqueue_on joins only a transaction on the queue's own.
DATABASE_IDENTITY = "SELECT file FROM pragma_database_list WHERE name = 'main'"

# One row per statement (an in-process call costs no round trip), after LIVE_BY_UNIQUE_KEY.
# The status is 'pending' when the job is due at once, else 'scheduled' (see STAGE).
# A job whose queue is not given (no handler here, no queue=) goes to the queue a worker
# stored for its type, else 'default' (?2 is the type).
ENQUEUE = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, budget,"
    "  run_at, created_at, retry_policy, unique_key, timeout, queue, limit_key, schedule,"
    "  traceparent, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    "  COALESCE(?, (SELECT queue FROM noormme_types WHERE type = ?2), 'default'), ?, ?, ?, ?)"
)

# A batch of new jobs (store/sqlite/tally.py): the queue resolved by the caller from
# TYPE_QUEUES, and the tally bit set, so the insert trigger leaves the counting to the batch.
ENQUEUE_COUNTED = (
    "INSERT INTO noormme_jobs (id, type, payload, status, priority, max_attempts, budget,"
    "  run_at, created_at, retry_policy, unique_key, timeout, queue, limit_key, schedule,"
    "  traceparent, events, tally) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)
TYPE_QUEUES = "SELECT type, queue FROM noormme_types WHERE queue IS NOT NULL"

LIVE_BY_UNIQUE_KEY = f"SELECT unique_key, id FROM noormme_jobs WHERE unique_key = ? AND {_LIVE}"

# -- claim -------------------------------------------------------------------------------------
# One transaction: stage what fell due, read which (queue, type) pairs have due jobs, the
# paused queues and the limits, pick candidates pair by pair from the claim index (each an
# index seek, in claim order), then mark the chosen ones processing by id.

STAGE = (
    "UPDATE noormme_jobs SET status = 'pending' WHERE id IN (SELECT id FROM noormme_jobs"
    "  INDEXED BY noormme_jobs_scheduled WHERE status = 'scheduled' AND run_at <= ?"
    "  ORDER BY run_at LIMIT ?)"
)

READY_PAIRS = "SELECT queue, type FROM noormme_counts WHERE status = 'pending' AND n > 0"

PAUSED_QUEUES = "SELECT name FROM noormme_queues WHERE paused = 1"

TYPE_LIMITS = (
    "SELECT type, concurrency, rate_count, rate_window FROM noormme_types"
    " WHERE concurrency IS NOT NULL OR rate_count IS NOT NULL"
)

RUNNING_BY_KEY = (
    "SELECT limit_key, COUNT(*) FROM noormme_jobs INDEXED BY noormme_jobs_running"
    " WHERE status = 'processing' AND type = ? GROUP BY limit_key"
)


@cache
def RATE_USAGE(keys: int) -> str:
    """Starts in the window of each of ``keys`` keys. Parameters: type, then the keys."""
    marks = ", ".join("?" * keys)
    return f"SELECT limit_key, n FROM noormme_rates WHERE type = ? AND limit_key IN ({marks})"


OLDEST_START = (
    "SELECT MIN(started_at) FROM noormme_starts INDEXED BY noormme_starts_key"
    " WHERE type = ? AND limit_key = ? AND started_at > ?"
)

CANDIDATES = (
    "SELECT id, limit_key, priority, run_at FROM noormme_jobs INDEXED BY noormme_jobs_claim"
    " WHERE status = 'pending' AND queue = ? AND type = ? AND run_at <= ?"
    " ORDER BY priority DESC, run_at, id LIMIT ?"
)


@cache
def CLAIM(count: int) -> str:
    """Parameters: token, worker_id, lease_until, now (started_at), then ``count`` ids. The
    claimed event is built here: only the row knows its attempt number (store/events.py).
    The claim keeps the counts itself (``tally``, store/sqlite/tally.py)."""
    marks = ", ".join("?" * count)
    return (
        "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
        "  claim_token = ?, worker_id = ?, lease_until = ?, started_at = ?, tally = 1 - tally,"
        "  events = json_insert(events, '$[#]',"
        "   json_array(?4, 'claimed', ?2, NULL, attempts + 1, NULL))"
        f" WHERE status = 'pending' AND id IN ({marks})"
        f" RETURNING {_SELECTED}"
    )


@cache
def CLAIM_READY(pairs: int) -> str:
    """A claim of types without limits in one statement, for pairs of distinct queues: each
    pair's first due jobs by a seek of the claim index (at most its budget), the first
    ``:limit`` of them in claim order, marked as :func:`CLAIM` marks them. Parameters by
    name: token, worker_id, lease_until, now, limit, and q<i>, t<i>, b<i> (the queue, type
    and budget of each pair)."""
    seeks = [
        "SELECT id, priority, run_at FROM noormme_jobs INDEXED BY noormme_jobs_claim"
        f" WHERE status = 'pending' AND queue = :q{i} AND type = :t{i} AND run_at <= :now"
        f" ORDER BY priority DESC, run_at, id LIMIT :b{i}"
        for i in range(pairs)
    ]
    if pairs == 1:
        picked = f"SELECT id FROM ({seeks[0]})"
    else:
        arms = " UNION ALL ".join(f"SELECT * FROM ({seek})" for seek in seeks)
        picked = f"SELECT id FROM ({arms}) ORDER BY priority DESC, run_at, id LIMIT :limit"
    return (
        "UPDATE noormme_jobs SET status = 'processing', attempts = attempts + 1,"
        "  claim_token = :token, worker_id = :worker_id, lease_until = :lease_until,"
        "  started_at = :now, tally = 1 - tally, events = json_insert(events, '$[#]',"
        "   json_array(:now, 'claimed', :worker_id, NULL, attempts + 1, NULL))"
        f" WHERE status = 'pending' AND id IN ({picked}) RETURNING {_SELECTED}"
    )


RECORD_START = "INSERT INTO noormme_starts (type, limit_key, started_at) VALUES (?, ?, ?)"
COUNT_STARTS = (
    "INSERT INTO noormme_rates (type, limit_key, n) VALUES (?, ?, ?)"
    " ON CONFLICT (type, limit_key) DO UPDATE SET n = n + excluded.n"
)
# Starts that left the window: deleted, and taken off their key's count (UNCOUNT_STARTS).
FORGET_STARTS = (
    "DELETE FROM noormme_starts INDEXED BY noormme_starts_window"
    " WHERE type = ? AND started_at <= ? RETURNING limit_key"
)
UNCOUNT_STARTS = "UPDATE noormme_rates SET n = n - ? WHERE type = ? AND limit_key = ?"
# The latest time any claim of a rate-limited type ran at, and this claim's own, whichever is
# later: processes take their "now" before they wait for the write lock, so without it a claim
# could run at a time before the one a later claim already forgot the starts up to.
CLAIM_CLOCK = (
    "INSERT INTO noormme_meta (key, value) VALUES ('claim_clock', ?) ON CONFLICT (key)"
    " DO UPDATE SET value = MAX(CAST(value AS REAL), CAST(excluded.value AS REAL))"
    " RETURNING CAST(value AS REAL)"
)

# When the earliest scheduled job falls due: one seek.
NEXT_DUE = (
    "SELECT MIN(run_at) FROM noormme_jobs INDEXED BY noormme_jobs_scheduled"
    " WHERE status = 'scheduled'"
)

# A claimed (or expired) row that no Job can hold: failed with why, in the claim's transaction.
FAIL_UNREADABLE = (
    "UPDATE noormme_jobs SET status = 'failed', error = ?, finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_EVENT} WHERE {_HELD}"
)

# -- settle ------------------------------------------------------------------------------------


@cache
def COMPLETE(rows: int) -> str:
    """Completions, the bulk of all settles: one statement for many rows. They append no
    event: a completed job's last event is read from its row (store/events.py), and they keep
    the counts themselves (``tally``, store/sqlite/tally.py).
    Parameters: (id, token, result, attempt) for each row, then now."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return (
        f"WITH v(id, token, result, attempt) AS (VALUES {values})"
        " UPDATE noormme_jobs SET status = 'completed', result = v.result, error = NULL,"
        "  finished_at = ?, claim_token = NULL, lease_until = NULL, tally = 1 - tally,"
        "  history = json_insert(history, '$[#]', json(v.attempt))"
        " FROM v WHERE noormme_jobs.id = v.id AND noormme_jobs.status = 'processing'"
        "  AND noormme_jobs.claim_token = v.token"
        " RETURNING noormme_jobs.id, noormme_jobs.queue, noormme_jobs.type"
    )


# -- the counts a statement keeps itself (store/sqlite/tally.py) -------------------------------
# Parameters: queue, type, status, how many more (fewer when negative).
ADD_COUNTS = (
    "INSERT INTO noormme_counts (queue, type, status, n) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (queue, type, status) DO UPDATE SET n = n + excluded.n"
)
# Parameters: minute, queue, then jobs started, their waits' sum and longest.
ADD_STARTED = (
    "INSERT INTO noormme_minutes (minute, queue, completed, failed, started, wait_sum,"
    "  wait_max) VALUES (?, ?, 0, 0, ?, ?, ?) ON CONFLICT (minute, queue) DO UPDATE SET"
    "  started = started + excluded.started, wait_sum = wait_sum + excluded.wait_sum,"
    "  wait_max = MAX(wait_max, excluded.wait_max)"
)
# Parameters: minute, queue, jobs completed.
ADD_COMPLETED = (
    "INSERT INTO noormme_minutes (minute, queue, completed, failed) VALUES (?, ?, ?, 0)"
    " ON CONFLICT (minute, queue) DO UPDATE SET completed = completed + excluded.completed"
)


FAIL = (
    "UPDATE noormme_jobs SET status = 'failed', error = ?, finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT}, {_APPEND_EVENT}"
    f" WHERE {_HELD}"
)
# Parameters: status ('pending' when due by now, else 'scheduled'), error, run_at, attempt,
# then its two events (failed or lease expired, and retry scheduled), id, token.
RETRY_LATER = (
    "UPDATE noormme_jobs SET status = ?, error = ?, run_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_ATTEMPT},"
    "  events = json_insert(events, '$[#]', json(?), '$[#]', json(?))"
    f" WHERE {_HELD}"
)
RELEASE = (
    "UPDATE noormme_jobs SET status = 'pending', attempts = attempts - 1,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_EVENT} WHERE {_HELD}"
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
# A job's timeline: its row's events (store/events.py), by primary key.
JOB_EVENTS = (
    "SELECT events, status, finished_at, worker_id, attempts FROM noormme_jobs WHERE id = ?"
)


@cache
def LIST_JOBS(statuses: int, by_type: bool, by_queue: bool, paged: bool) -> str:
    """Newest first; ``paged`` goes on below the id of the previous page's last job.

    With statuses, one arm per stored status (pending is 'pending' and 'scheduled'), each
    walking the (status, id) index newest first and stopping at the limit; the arms merge
    over at most ``statuses`` * limit rows. Parameters, per arm: status, then type, queue,
    before (those asked for), limit; without statuses, the same without status; then the
    limit again when there are arms."""
    clauses = [
        clause
        for clause, used in (("type = ?", by_type), ("queue = ?", by_queue), ("id < ?", paged))
        if used
    ]
    if not statuses:
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return f"SELECT {_SELECTED} FROM noormme_jobs{where} ORDER BY id DESC LIMIT ?"
    where = " AND ".join(["status = ?", *clauses])
    arm = (
        f"SELECT * FROM (SELECT {_SELECTED} FROM noormme_jobs INDEXED BY noormme_jobs_status"
        f" WHERE {where} ORDER BY id DESC LIMIT ?)"
    )
    if statuses == 1:
        return arm
    return f"{' UNION ALL '.join([arm] * statuses)} ORDER BY id DESC LIMIT ?"


# Kept counts: a few rows, whatever the number of jobs.
STATS = "SELECT status, SUM(n) FROM noormme_counts GROUP BY status"
# One queue's: a seek of the counts' key, (queue, type, status).
QUEUE_STATS = "SELECT status, SUM(n) FROM noormme_counts WHERE queue = ? GROUP BY status"
QUEUE_COUNTS = "SELECT queue, status, SUM(n) FROM noormme_counts GROUP BY queue, status"

PENDING_TYPES = (
    "SELECT DISTINCT type FROM noormme_counts"
    " WHERE status IN ('pending', 'scheduled') AND n > 0 ORDER BY type"
)

FINISHED_MINUTES = (
    "SELECT minute, SUM(completed), SUM(failed) FROM noormme_minutes"
    " WHERE minute >= ? GROUP BY minute HAVING SUM(completed) + SUM(failed) > 0"
    " ORDER BY minute"
)

# Buckets that are not whole minutes: from the jobs. Completed jobs are many: a range of
# the partial index on finished_at (its status IN (...) repeated so the index applies);
# failed jobs, the dead-letter record, are few: by status.
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

# -- queues and job types ----------------------------------------------------------------------

QUEUES = "SELECT name, paused FROM noormme_queues"
# Parameters: name, paused (1 or 0), now. Returns the row only when the state changed.
SET_PAUSED = (
    "INSERT INTO noormme_queues (name, paused, updated_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at"
    " WHERE noormme_queues.paused <> excluded.paused"
)
QUEUE_PAUSED = "SELECT paused FROM noormme_queues WHERE name = ?"

TYPES = (
    "SELECT type, queue, concurrency, rate_count, rate_window, defined_by, updated_at"
    " FROM noormme_types ORDER BY type"
)
GET_TYPE = (
    "SELECT type, queue, concurrency, rate_count, rate_window, defined_by, updated_at"
    " FROM noormme_types WHERE type = ?"
)
DEFINE_TYPE = (
    "INSERT INTO noormme_types (type, queue, concurrency, rate_count, rate_window,"
    "  defined_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (type) DO UPDATE SET queue = excluded.queue,"
    "  concurrency = excluded.concurrency, rate_count = excluded.rate_count,"
    "  rate_window = excluded.rate_window, defined_by = excluded.defined_by,"
    "  updated_at = excluded.updated_at"
)

# -- control -----------------------------------------------------------------------------------

# SQLite only: RETURNING shows the new row, so CANCEL's caller reads the status it replaces
# first, in the same transaction.
LIVE_STATUS = f"SELECT status FROM noormme_jobs WHERE id = ? AND {_LIVE}"
CANCEL = (
    "UPDATE noormme_jobs SET status = 'cancelled', finished_at = ?,"
    f"  claim_token = NULL, lease_until = NULL, {_APPEND_EVENT} WHERE id = ? AND {_LIVE}"
)

# A manual retry: the attempts go on counting; max_attempts grows by the job's budget.
RETRYABLE = (
    "SELECT attempts, COALESCE(budget, max_attempts) FROM noormme_jobs"
    " WHERE id = ? AND status IN ('failed', 'cancelled')"
)
RETRY = (
    "UPDATE noormme_jobs SET status = 'pending', max_attempts = ?, run_at = ?,"
    f"  started_at = NULL, finished_at = NULL, error = NULL, result = NULL, {_APPEND_EVENT}"
    " WHERE id = ? AND status IN ('failed', 'cancelled')"
)

PURGE = (
    "DELETE FROM noormme_jobs WHERE id IN (SELECT id FROM noormme_jobs"
    "  INDEXED BY noormme_jobs_finished"
    "  WHERE status IN ('completed', 'cancelled') AND finished_at < ? LIMIT ?)"
)
PURGE_MINUTES = "DELETE FROM noormme_minutes WHERE minute < ?"

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

# -- workers, activity and health -------------------------------------------------------------

# The database's clock, beside the worker's: only ever compared with it (the clock skew the
# doctor reports), never used to decide anything.
_DATABASE_CLOCK = "((julianday('now') - 2440587.5) * 86400.0)"
DATABASE_CLOCK = f"SELECT {_DATABASE_CLOCK}"
_WORKER_SET = ", ".join(f"{c} = excluded.{c}" for c in WORKER_COLUMNS if c not in ("id",))
BEAT = (
    f"INSERT INTO noormme_workers ({', '.join(WORKER_COLUMNS)}) VALUES (:id, :host, :pid,"
    "  :queues, :concurrency, :types, :jobs, :started_at, :heartbeat_at, :expires_at,"
    f"  {_DATABASE_CLOCK}) ON CONFLICT (id) DO UPDATE SET {_WORKER_SET}"
)
# The table holds a row per live worker (and the dead ones until the next heartbeat).
AGE_OUT_WORKERS = "DELETE FROM noormme_workers WHERE expires_at < ? AND id <> ?"
FORGET_WORKER = "DELETE FROM noormme_workers WHERE id = ?"
LIVE_WORKERS = (
    f"SELECT {', '.join(WORKER_COLUMNS)} FROM noormme_workers WHERE expires_at >= ? ORDER BY id"
)

# A range of the primary key (minute, queue): minutes x queues rows.
ACTIVITY = (
    "SELECT minute, queue, completed, failed, started, wait_sum, wait_max FROM noormme_minutes"
    " WHERE minute >= ? ORDER BY minute, queue"
)

# Processing jobs are few (at most every worker's concurrency): the status index.
STUCK_LEASES = (
    "SELECT id, type, worker_id, lease_until FROM noormme_jobs INDEXED BY noormme_jobs_status"
    " WHERE status = 'processing' AND lease_until < ? ORDER BY lease_until LIMIT ?"
)
COUNT_STUCK = (
    "SELECT COUNT(*) FROM noormme_jobs INDEXED BY noormme_jobs_status"
    " WHERE status = 'processing' AND lease_until < ?"
)

# SQLite only: the settings of the writer's connection the doctor reports.
JOURNAL_MODE = "PRAGMA journal_mode"
SYNCHRONOUS = "PRAGMA synchronous"
BUSY_TIMEOUT = "PRAGMA busy_timeout"

# -- wake-ups (SQLite only: PostgreSQL has LISTEN/NOTIFY) --------------------------------------

ADD_LISTENER = "INSERT INTO noormme_listeners (name, pid, created_at) VALUES (?, ?, ?)"
REMOVE_LISTENER = "DELETE FROM noormme_listeners WHERE name = ?"
LISTENERS = "SELECT name FROM noormme_listeners"
