"""The schema of the PostgreSQL store and its migrations, beside ``sql.py`` (the statements),
under the same names as the other dialect's ``schema.py``.

Tables live in the first schema of the connection's ``search_path`` (``public`` unless the
URL says ``options=-csearch_path=...``), prefixed ``noormme_``; the version lives in our own
``noormme_meta`` table, so the queue can share a database with an application. Migrations
only ever get appended; they run in one transaction under a transaction-level advisory lock
and re-read the version there, so many processes starting at once migrate exactly once.
"""

from __future__ import annotations

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
    # 2: named queues, limits, claims that stay flat beside any backlog, counts kept.
    """
    ALTER TABLE noormme_jobs ADD COLUMN queue text NOT NULL DEFAULT 'default';
    ALTER TABLE noormme_jobs ADD COLUMN limit_key text;
    -- the runs a manual retry grants again (max_attempts grows by it; attempts go on)
    ALTER TABLE noormme_jobs ADD COLUMN budget integer;
    UPDATE noormme_jobs SET budget = max_attempts;
    ALTER TABLE noormme_jobs DROP CONSTRAINT noormme_jobs_status_check;
    ALTER TABLE noormme_jobs ADD CONSTRAINT noormme_jobs_status_check CHECK (status IN
        ('pending', 'scheduled', 'processing', 'completed', 'failed', 'cancelled'));
    -- A pending job not due yet is 'scheduled': out of the claim's index until a claim
    -- stages it, so no claim walks past jobs due tomorrow.
    UPDATE noormme_jobs SET status = 'scheduled'
        WHERE status = 'pending' AND run_at > extract(epoch FROM now());
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
    -- Counts by queue, type and status, kept by statement triggers in the same
    -- transactions. Each backend adds to its own shard of a count, so concurrent claims and
    -- settles never wait for one another's counter row; readers sum the shards.
    CREATE TABLE noormme_counts (
        queue   text NOT NULL,
        type    text NOT NULL,
        status  text NOT NULL,
        shard   integer NOT NULL,
        n       bigint NOT NULL,
        PRIMARY KEY (queue, type, status, shard)
    );
    INSERT INTO noormme_counts (queue, type, status, shard, n)
        SELECT queue, type, status, 0, count(*) FROM noormme_jobs GROUP BY queue, type, status;
    -- Jobs finished per minute and queue (the dashboard's throughput, metrics).
    CREATE TABLE noormme_minutes (
        minute     bigint NOT NULL,
        queue      text NOT NULL,
        shard      integer NOT NULL,
        completed  bigint NOT NULL,
        failed     bigint NOT NULL,
        PRIMARY KEY (minute, queue, shard)
    );
    INSERT INTO noormme_minutes (minute, queue, shard, completed, failed)
        SELECT floor(finished_at / 60)::bigint, queue, 0,
            count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')
        FROM noormme_jobs WHERE status IN ('completed', 'failed') AND finished_at IS NOT NULL
        GROUP BY 1, 2;
    CREATE FUNCTION noormme_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO noormme_counts (queue, type, status, shard, n)
            SELECT queue, type, status, pg_backend_pid() % 16, count(*) FROM noormme_new
            GROUP BY queue, type, status
            ON CONFLICT (queue, type, status, shard)
                DO UPDATE SET n = noormme_counts.n + excluded.n;
        RETURN NULL;
    END $$;
    CREATE FUNCTION noormme_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO noormme_counts (queue, type, status, shard, n)
            SELECT queue, type, status, pg_backend_pid() % 16, -count(*) FROM noormme_old
            GROUP BY queue, type, status
            ON CONFLICT (queue, type, status, shard)
                DO UPDATE SET n = noormme_counts.n + excluded.n;
        RETURN NULL;
    END $$;
    CREATE FUNCTION noormme_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO noormme_counts (queue, type, status, shard, n)
            SELECT queue, type, status, pg_backend_pid() % 16, sum(d) FROM (
                SELECT o.queue, o.type, o.status, -1 AS d FROM noormme_old o
                    JOIN noormme_new n ON n.id = o.id
                    WHERE (o.status, o.queue, o.type) IS DISTINCT FROM (n.status, n.queue, n.type)
                UNION ALL
                SELECT n.queue, n.type, n.status, 1 FROM noormme_old o
                    JOIN noormme_new n ON n.id = o.id
                    WHERE (o.status, o.queue, o.type) IS DISTINCT FROM (n.status, n.queue, n.type)
            ) changed GROUP BY queue, type, status
            ON CONFLICT (queue, type, status, shard)
                DO UPDATE SET n = noormme_counts.n + excluded.n;
        INSERT INTO noormme_minutes (minute, queue, shard, completed, failed)
            SELECT floor(n.finished_at / 60)::bigint, n.queue, pg_backend_pid() % 16,
                count(*) FILTER (WHERE n.status = 'completed'),
                count(*) FILTER (WHERE n.status = 'failed')
            FROM noormme_old o JOIN noormme_new n ON n.id = o.id
            WHERE n.status IN ('completed', 'failed') AND o.status IS DISTINCT FROM n.status
            GROUP BY 1, 2
            ON CONFLICT (minute, queue, shard) DO UPDATE SET
                completed = noormme_minutes.completed + excluded.completed,
                failed = noormme_minutes.failed + excluded.failed;
        RETURN NULL;
    END $$;
    CREATE TRIGGER noormme_jobs_count_insert AFTER INSERT ON noormme_jobs
        REFERENCING NEW TABLE AS noormme_new
        FOR EACH STATEMENT EXECUTE FUNCTION noormme_count_inserted();
    CREATE TRIGGER noormme_jobs_count_delete AFTER DELETE ON noormme_jobs
        REFERENCING OLD TABLE AS noormme_old
        FOR EACH STATEMENT EXECUTE FUNCTION noormme_count_deleted();
    CREATE TRIGGER noormme_jobs_count_update AFTER UPDATE ON noormme_jobs
        REFERENCING OLD TABLE AS noormme_old NEW TABLE AS noormme_new
        FOR EACH STATEMENT EXECUTE FUNCTION noormme_count_updated();
    -- Queues: paused or not, obeyed by every worker's next claim.
    CREATE TABLE noormme_queues (
        name        text PRIMARY KEY,
        paused      boolean NOT NULL DEFAULT false,
        updated_at  double precision NOT NULL
    );
    -- Job types as workers registered them: their queue and limits. A limited type's row
    -- is locked by each claim of it, so claims of limited types never race.
    CREATE TABLE noormme_types (
        type         text PRIMARY KEY,
        queue        text NOT NULL,
        concurrency  integer,
        rate_count   integer,
        rate_window  double precision,
        defined_by   text NOT NULL,
        updated_at   double precision NOT NULL
    );
    -- Rate limits: the starts of rate-limited types, kept for one window.
    CREATE TABLE noormme_starts (
        type        text NOT NULL,
        limit_key   text NOT NULL,
        started_at  double precision NOT NULL
    );
    CREATE INDEX noormme_starts_window ON noormme_starts (type, started_at);
    CREATE INDEX noormme_starts_key ON noormme_starts (type, limit_key, started_at);
    -- ... and how many of them each (type, key) has in its window: a claim reads a count
    -- per candidate key, never the log (which holds a whole window of starts)
    CREATE TABLE noormme_rates (
        type       text NOT NULL,
        limit_key  text NOT NULL,
        n          bigint NOT NULL,
        PRIMARY KEY (type, limit_key)
    );
    """,
    # 3: recurring jobs, and the link from a job to the schedule that made it.
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
    # 4: the W3C traceparent of the span that enqueued a job (docs/observability.md).
    """
    ALTER TABLE noormme_jobs ADD COLUMN traceparent text;
    """,
    # 5: each job's timeline, in its own row (store/events.py): every statement that changes
    # a job appends that change's events. Jobs from before start with none.
    """
    ALTER TABLE noormme_jobs ADD COLUMN events jsonb NOT NULL DEFAULT '[]';
    """,
    # 6: live workers (a heartbeat each), and jobs started per minute and queue with their
    # wait from due to start (the dashboard's latency chart), kept when a job is claimed.
    """
    CREATE TABLE noormme_workers (
        id            text PRIMARY KEY,
        host          text NOT NULL,
        pid           integer NOT NULL,
        queues        text,
        concurrency   integer NOT NULL,
        types         text NOT NULL,
        jobs          text NOT NULL,
        started_at    double precision NOT NULL,
        heartbeat_at  double precision NOT NULL,
        expires_at    double precision NOT NULL,
        seen_at       double precision NOT NULL
    );
    ALTER TABLE noormme_minutes ADD COLUMN started bigint NOT NULL DEFAULT 0;
    ALTER TABLE noormme_minutes ADD COLUMN wait_sum double precision NOT NULL DEFAULT 0;
    ALTER TABLE noormme_minutes ADD COLUMN wait_max double precision NOT NULL DEFAULT 0;
    CREATE FUNCTION noormme_count_started() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO noormme_minutes (minute, queue, shard, completed, failed, started,
                wait_sum, wait_max)
            SELECT floor(n.started_at / 60)::bigint, n.queue, pg_backend_pid() % 16, 0, 0,
                count(*), sum(greatest(0, n.started_at - o.run_at)),
                max(greatest(0, n.started_at - o.run_at))
            FROM noormme_old o JOIN noormme_new n ON n.id = o.id
            WHERE n.status = 'processing' AND o.status IN ('pending', 'scheduled')
            GROUP BY 1, 2
            ON CONFLICT (minute, queue, shard) DO UPDATE SET
                started = noormme_minutes.started + excluded.started,
                wait_sum = noormme_minutes.wait_sum + excluded.wait_sum,
                wait_max = greatest(noormme_minutes.wait_max, excluded.wait_max);
        RETURN NULL;
    END $$;
    CREATE TRIGGER noormme_jobs_count_started AFTER UPDATE ON noormme_jobs
        REFERENCING OLD TABLE AS noormme_old NEW TABLE AS noormme_new
        FOR EACH STATEMENT EXECUTE FUNCTION noormme_count_started();
    """,
    # 7: one trigger function per UPDATE: the counts, then the minute's finished and started
    # jobs in one statement, over the changed rows joined once (two functions over the same
    # transition tables cost a claim or settle of 10 jobs 0.05 ms more on the server).
    """
    DROP TRIGGER noormme_jobs_count_started ON noormme_jobs;
    DROP FUNCTION noormme_count_started();
    CREATE OR REPLACE FUNCTION noormme_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH changed AS MATERIALIZED (
            SELECT o.queue AS old_queue, o.type AS old_type, o.status AS old_status, o.run_at,
                n.queue, n.type, n.status, n.started_at, n.finished_at
            FROM noormme_old o JOIN noormme_new n ON n.id = o.id
            WHERE (o.status, o.queue, o.type) IS DISTINCT FROM (n.status, n.queue, n.type)
        ), counted AS (
            INSERT INTO noormme_counts (queue, type, status, shard, n)
                SELECT queue, type, status, pg_backend_pid() % 16, sum(d) FROM (
                    SELECT old_queue AS queue, old_type AS type, old_status AS status, -1 AS d
                        FROM changed
                    UNION ALL SELECT queue, type, status, 1 FROM changed
                ) moved GROUP BY queue, type, status
                ON CONFLICT (queue, type, status, shard)
                    DO UPDATE SET n = noormme_counts.n + excluded.n
        )
        INSERT INTO noormme_minutes (minute, queue, shard, completed, failed, started,
                wait_sum, wait_max)
            SELECT minute, queue, pg_backend_pid() % 16, sum(completed), sum(failed),
                sum(started), sum(waited), max(waited)
            FROM (
                SELECT floor(finished_at / 60)::bigint AS minute, queue,
                    (status = 'completed')::int AS completed, (status = 'failed')::int AS failed,
                    0 AS started, 0::float8 AS waited
                FROM changed
                WHERE status IN ('completed', 'failed') AND old_status IS DISTINCT FROM status
                UNION ALL
                SELECT floor(started_at / 60)::bigint, queue, 0, 0, 1,
                    greatest(0, started_at - run_at)
                FROM changed
                WHERE status = 'processing' AND old_status IN ('pending', 'scheduled')
            ) ended GROUP BY minute, queue
            ON CONFLICT (minute, queue, shard) DO UPDATE SET
                completed = noormme_minutes.completed + excluded.completed,
                failed = noormme_minutes.failed + excluded.failed,
                started = noormme_minutes.started + excluded.started,
                wait_sum = noormme_minutes.wait_sum + excluded.wait_sum,
                wait_max = greatest(noormme_minutes.wait_max, excluded.wait_max);
        RETURN NULL;
    END $$;
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
