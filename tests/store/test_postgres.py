"""What only the PostgreSQL store has: row locks skipped, LISTEN/NOTIFY, schema migrations under an
advisory lock, errors that name the server but never the password."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import psycopg
import pytest

from noormme_queue import QueueConfig
from noormme_queue.core.errors import SchemaTooNew, StoreCorrupt, StoreUnavailable
from noormme_queue.core.ids import new_job_id
from noormme_queue.core.job import JobStatus
from noormme_queue.core.routing import RateLimit, TypeDefinition, TypeLimits
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Completed, Failed, store_from_config
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.postgres import claim as pg_claim
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.postgres.schema import SCHEMA_VERSION
from noormme_queue.store.rows import listed_statuses

from ..conftest import wait_until
from ..pg import PG_URL, admin, fresh_schema, schema_url
from .conftest import T0, new_job
from .plans import postgres_plan
from .test_conformance import attempt


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema() as schema:
        yield schema


@pytest.fixture
async def pg(url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(url)
    await store.open()
    yield store
    await store.close()


def listeners(channel: str) -> int:
    rows = sql(
        PG_URL,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'noormme-queue-listen'"
        f" AND query = 'LISTEN \"{channel}\"'",
    )
    return int(str(rows[0][0]))


def schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def sql(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode())
        return cur.fetchall() if cur.description else []


# -- claims ------------------------------------------------------------------------------------


async def test_concurrent_claims_from_many_connections_never_share_a_job(url: str) -> None:
    jobs = [new_job(priority=i % 3) for i in range(600)]
    stores = [PostgresStore(url, max_connections=4) for _ in range(6)]
    for store in stores:
        await store.open()
    await stores[0].enqueue(jobs)
    claimed: list[str] = []

    async def drain(store: PostgresStore, worker: str) -> None:
        while True:
            got = await store.claim(["t"], 7, now=T0, lease_until=T0 + 30, worker_id=worker)
            if not got.jobs:
                return
            claimed.extend(j.id for j in got.jobs)

    # 24 claim loops over 24 connections at once.
    await asyncio.gather(*(drain(s, f"w{n}-{k}") for n, s in enumerate(stores) for k in range(4)))
    for store in stores:
        await store.close()
    assert len(claimed) == len(jobs)
    assert sorted(claimed) == sorted(j.id for j in jobs)


async def test_a_claim_skips_rows_locked_elsewhere_instead_of_waiting(
    pg: PostgresStore, url: str
) -> None:
    first, second = new_job(priority=9), new_job()
    await pg.enqueue([first, second])
    with psycopg.connect(url) as other:  # a transaction elsewhere holds the first job's row
        other.execute("SELECT 1 FROM noormme_jobs WHERE id = %s FOR UPDATE", (first.id,))
        got = await pg.claim(["t"], 10, now=T0, lease_until=T0 + 30, worker_id="w")
        assert [j.id for j in got.jobs] == [second.id]
        other.rollback()
    got = await pg.claim(["t"], 10, now=T0, lease_until=T0 + 30, worker_id="w")
    assert [j.id for j in got.jobs] == [first.id]


def blocked_by(url: str, pid: int) -> bool:
    """Some other backend waits for a lock that backend ``pid`` holds."""
    query = f"SELECT count(*) FROM pg_stat_activity WHERE {int(pid)} = ANY(pg_blocking_pids(pid))"
    return int(str(sql(url, query)[0][0])) > 0


async def test_defining_types_never_deadlocks_with_a_claim_of_limited_types(
    pg: PostgresStore, url: str
) -> None:
    """A worker that starts while others claim limited types defines its types (locking their
    rows) as a claim locks them (sql.TYPE_LIMITS: by name): it waits for the claim, and the
    two never deadlock (which killed the starting worker)."""
    limits = TypeLimits(concurrency=2)
    mine = [TypeDefinition(t, "default", limits, "w1", T0) for t in ("zeta", "alpha")]
    await pg.define_types(mine)  # in the order they were registered, not by name
    again = [replace(d, defined_by="w2", updated_at=T0 + 1) for d in mine]
    with psycopg.connect(url) as claim:
        # A claim of both limited types, half way through locking them: 'alpha' is locked.
        claim.execute(pg_sql.TYPE_LIMITS, {"types": ["alpha"]})
        defining = asyncio.create_task(pg.define_types(again))
        pid = claim.info.backend_pid
        await wait_until(lambda: blocked_by(url, pid), 10, "define_types to wait for the claim")
        claim.execute(pg_sql.TYPE_LIMITS, {"types": ["alpha", "zeta"]})  # and now 'zeta'
        claim.commit()
    assert await defining == []  # the same definitions: nothing replaced


def waits_for(url: str, waiter: int, holder: int) -> bool:
    """Backend ``waiter`` waits for a lock that backend ``holder`` holds."""
    query = f"SELECT {int(holder)} = ANY(pg_blocking_pids({int(waiter)}))"
    return bool(sql(url, query)[0][0])


async def backend_pid(store: PostgresStore) -> int:
    runner = store._runner
    assert runner is not None
    return int(runner.call(lambda conn: conn.info.backend_pid))


async def test_a_settle_and_a_claim_of_a_limited_type_never_deadlock(url: str) -> None:
    """A worker saves its outcomes and claims in one transaction (the pool groups the two
    writes), and a claim of a limited type first locks the type's row. Worker A's settle
    adds to the counts of its connection's shard (backend pid % 16) and A's claim then waits
    for the type's row, which B's claim holds; when B's claim marks jobs processing, its
    counts go to the same shard if B's connection shares it: B waits for A, A for B, until
    PostgreSQL's deadlock_timeout (1 s) aborts one. Here deadlock_timeout is a minute, so the
    cycle, if any, is seen."""
    patient = f"{url}%20-cdeadlock_timeout%3D60s"
    stores: list[PostgresStore] = []
    by_shard: dict[int, PostgresStore] = {}
    while True:  # two single-connection stores whose backends share a counts shard
        store = PostgresStore(patient, max_connections=1)
        await store.open()
        stores.append(store)
        shard = await backend_pid(store) % 16
        if shard in by_shard:
            a, b = by_shard[shard], store
            break
        by_shard[shard] = store
    try:
        limits = TypeLimits(concurrency=10, rate=RateLimit(100, 1.0))
        await a.define_types([TypeDefinition("t", "default", limits, "a", T0)])
        first, second, third = new_job(priority=9), new_job(priority=5), new_job()
        await a.enqueue([first, second, third])
        held = await a.claim(["t"], 1, now=T0, lease_until=T0 + 30, worker_id="a")
        assert [j.id for j in held.jobs] == [first.id]
        pid_a, pid_b = await backend_pid(a), await backend_pid(b)
        old_start = f"INSERT INTO noormme_starts VALUES ('t', '', {T0 - 60})"
        sql(url, old_start)
        with psycopg.connect(url) as other:
            # B's claim stops after locking the type: it forgets old starts, and one is locked.
            other.execute("SELECT 1 FROM noormme_starts WHERE type = 't' FOR UPDATE")
            claim_b = asyncio.create_task(
                b.claim(["t"], 1, now=T0, lease_until=T0 + 30, worker_id="b")
            )
            await wait_until(lambda: blocked_by(url, other.info.backend_pid), 10, "B's claim")
            done = Completed(first.id, held.token, "1", attempt(1))
            cycle_a = asyncio.gather(  # as a worker does: one write, one transaction
                a.settle([done], now=T0),
                a.claim(["t"], 1, now=T0, lease_until=T0 + 30, worker_id="a"),
            )
            await wait_until(
                lambda: cycle_a.done() or waits_for(url, pid_a, pid_b), 10, "A's settle and claim"
            )
            other.rollback()  # B's claim goes on
        stuck: list[bool] = []

        def finished_or_stuck() -> bool:
            if claim_b.done():
                return True
            if waits_for(url, pid_a, pid_b) and waits_for(url, pid_b, pid_a):
                stuck.append(True)
            return bool(stuck)

        await wait_until(finished_or_stuck, 10, "B's claim to finish")
        if stuck:
            sql(url, f"SELECT pg_cancel_backend({pid_a})")  # break the cycle, then fail
        (settled, claimed_a), claimed_b = await asyncio.gather(cycle_a, claim_b)
        assert not stuck, "deadlock: A's settle and claim wait for B's claim, which waits for A"
        assert settled == [True]
        assert [j.id for j in claimed_b.jobs] == [second.id]
        # A's claim waited for B's, or took nothing and asked to look again at once.
        got_a = [j.id for j in claimed_a.jobs]
        assert got_a == [third.id] or (got_a == [] and claimed_a.next_run_at == T0)
        if not got_a:
            again = await a.claim(["t"], 1, now=T0, lease_until=T0 + 30, worker_id="a")
            assert [j.id for j in again.jobs] == [third.id]
    finally:
        for store in stores:
            await store.close()


async def test_the_hot_queries_use_their_indexes(pg: PostgresStore, url: str) -> None:
    types = ["a", "b", "c", "t"]
    jobs = [new_job(types[i % 4], priority=i % 5, run_at=T0 + i) for i in range(20_000)]
    await pg.enqueue(jobs)  # created at T0: all but the first are scheduled
    sql(url, "ANALYZE noormme_jobs")

    params = {
        "token": "t",
        "worker_id": "w",
        "lease_until": 0.0,
        "limit": 10,
        "stage": 500,
        "all_queues": True,
        "queues": [],
        "budgets": [],
    }

    def claim(now: float, types: list[str]) -> str:
        return postgres_plan(url, pg_sql.CLAIM_READY, {**params, "now": now, "types": types})

    # A worker's claim: each (queue, type) pair with due jobs is one LATERAL seek of the
    # claim index, read in claim order and stopped at `limit`; what is sorted is only those
    # few candidates, never the jobs table; staging seeks the scheduled index.
    plan = claim(T0 + 20_000, types)
    assert "Index Scan using noormme_jobs_claim" in plan
    assert "Index Cond: ((queue = p.queue) AND (type = p.type)" in plan
    assert "noormme_jobs_scheduled" in plan
    assert "Seq Scan on noormme_jobs" not in plan
    sorted_inputs = [
        plan.splitlines()[n + 2].strip()
        for n, line in enumerate(plan.splitlines())
        if line.strip().startswith("->  Sort ") and n + 2 < len(plan.splitlines())
    ]
    assert sorted_inputs and all(
        "CTE Scan on cand" in s or "noormme_counts" in s or "Subquery Scan on r" in s
        for s in sorted_inputs
    ), sorted_inputs
    # A worker's cycle: the same claim, its settle finding the held rows by index.
    held = json.dumps([{"id": jobs[0].id, "token": "t", "result": None, "attempt": "{}"}])
    cycle = postgres_plan(
        url,
        pg_sql.SETTLE_AND_CLAIM("c"),
        {**params, "now": T0 + 20_000, "types": types, "c": held},
    )
    assert "Index Cond: ((queue = p.queue) AND (type = p.type)" in cycle
    assert "Seq Scan on noormme_jobs" not in cycle
    assert "noormme_jobs_scheduled" in postgres_plan(url, pg_sql.NEXT_DUE)
    assert "noormme_counts" in postgres_plan(url, pg_sql.PENDING_TYPES)
    assert "noormme_counts" in postgres_plan(url, pg_sql.STATS)
    # One queue's counts read the kept counts only (a few rows per queue and type, whatever
    # the jobs), and can seek them by the key's first column.
    of_queue = postgres_plan(url, pg_sql.QUEUE_STATS, {"queue": "emails"})
    assert "noormme_counts" in of_queue and "noormme_jobs" not in of_queue
    assert "(queue = 'emails'::text)" in of_queue
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute(f"EXPLAIN {pg_sql.QUEUE_STATS}", {"queue": "emails"}).fetchall()
    seek = "\n".join(str(r[0]) for r in rows)
    assert "noormme_counts_pkey" in seek and "Index Cond: (queue = 'emails'::text)" in seek, seek
    expired = postgres_plan(url, pg_sql.EXPIRED_LEASES, {"now": 0.0, "limit": 100})
    assert "noormme_jobs_running" in expired or "noormme_jobs_status" in expired
    purge = postgres_plan(url, pg_sql.PURGE, {"before": 0.0, "limit": 500})
    assert "noormme_jobs_finished" in purge
    candidates = postgres_plan(
        url, pg_sql.CANDIDATES, {"queue": "default", "type": "t", "now": T0, "limit": 10}
    )
    assert "Index Scan using noormme_jobs_claim" in candidates and "Sort" not in candidates
    # A limited claim's statements: the first page of each pair seeks the claim index; its
    # keys' starts are read from the kept counts, never counted from the start log; the
    # locks' statement stages by the scheduled index and forgets by the window index.
    pages = postgres_plan(
        url,
        pg_sql.PLANNED_CANDIDATES,
        {"types": types, "now": T0, "limit": 10, "all_queues": True, "queues": [], "budgets": []},
    )
    assert "Index Cond: ((queue = p.queue) AND (type = p.type)" in pages, pages
    assert "Seq Scan on noormme_jobs" not in pages and "noormme_starts" not in pages, pages
    sql(
        url,
        "INSERT INTO noormme_starts SELECT 't', 'k' || i % 100, i FROM generate_series(1, 20000) i",
    )
    sql(url, "ANALYZE noormme_starts")  # a window's starts
    locks = postgres_plan(
        url, pg_sql.LOCK_LIMITS, {"types": types, "now": T0, "stage": 500, "forget": 10_000}
    )
    assert "noormme_jobs_scheduled" in locks and "noormme_starts_window" in locks, locks
    assert "Seq Scan on noormme_jobs" not in locks and "Seq Scan on noormme_starts" not in locks


async def test_a_listing_by_status_seeks_that_status_beside_newer_jobs(
    pg: PostgresStore, url: str
) -> None:
    # Waiting jobs older than as many finished ones: walking the primary key newest first
    # (the planner's pick for a plain `status = ... ORDER BY id DESC`, counting on each
    # status being spread over all ids) passes every finished job before the first pending
    # one. With 1,000,000 jobs that first page took 0.6 s.
    await pg.enqueue([new_job() for _ in range(5_000)])
    await pg.enqueue([new_job(run_at=T0 + 86_400) for _ in range(5_000)])  # scheduled
    columns = "id, type, payload, status, max_attempts, run_at, created_at, finished_at"
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY noormme_jobs ({columns}) FROM STDIN") as copy:
            for i in range(10_000):
                copy.write_row((new_job_id(), "t", "{}", "completed", 3, T0, T0, T0 + i))
    sql(url, "ANALYZE noormme_jobs")
    for status in (JobStatus.PENDING, JobStatus.COMPLETED):
        stored = listed_statuses(status)
        for paged in (False, True):
            params: dict[str, object] = {f"status{n}": s for n, s in enumerate(stored)}
            params |= {"before": "job_~", "limit": 51}
            plan = postgres_plan(url, pg_sql.LIST_JOBS(len(stored), False, False, paged), params)
            assert plan.count("Index Scan Backward using noormme_jobs_status") == len(stored), plan
            assert "noormme_jobs_pkey" not in plan, plan  # (two arms: their 2 * 51 rows merged)


# -- LISTEN/NOTIFY -----------------------------------------------------------------------------


async def test_listen_notify_wakes_a_listener_in_another_store(url: str) -> None:
    worker_side, producer = PostgresStore(url), PostgresStore(url)
    await worker_side.open()
    await producer.open()
    wakeups = 0
    woken = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_wakeup() -> None:
        nonlocal wakeups
        assert asyncio.get_running_loop() is loop  # the callback runs on the listening loop
        wakeups += 1
        woken.set()

    stop = await worker_side.listen(on_wakeup)
    # Its own enqueue is not announced to itself; notifications arrive in commit order, so
    # had it been, the count below would be 2.
    await worker_side.enqueue([new_job()])
    await producer.enqueue([new_job()])
    await asyncio.wait_for(woken.wait(), 5)
    assert wakeups == 1

    # retry and lease recovery make work available too
    job = new_job(max_attempts=1)
    await producer.enqueue([job])
    await asyncio.wait_for(woken.wait(), 5)
    got = await producer.claim(["t"], 10, now=T0, lease_until=T0 + 1, worker_id="p")
    assert job.id in {j.id for j in got.jobs}
    await producer.settle([Failed(job.id, got.token, attempt(1), None)], now=T0)
    woken.clear()
    assert await producer.retry(job.id, now=T0)
    await asyncio.wait_for(woken.wait(), 5)
    woken.clear()
    expired = await producer.expired_leases(now=T0 + 2, limit=10)  # the others claimed with it
    outcomes = [settle_expired(e, now=T0 + 2) for e in expired]
    assert any(o.retry_at is not None for o in outcomes)
    assert all(await producer.settle(outcomes, now=T0 + 2))
    await asyncio.wait_for(woken.wait(), 5)

    await stop()
    await wait_until(
        lambda: listeners(worker_side.channel) == 0, 5, "the LISTEN connection to close"
    )
    await worker_side.close()
    await producer.close()


async def test_a_listener_comes_back_after_its_connection_is_killed(url: str) -> None:
    worker_side, producer = PostgresStore(url), PostgresStore(url)
    await worker_side.open()
    await producer.open()
    woken = asyncio.Event()
    stop = await worker_side.listen(woken.set)
    channel = worker_side.channel
    killed = sql(
        PG_URL,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE application_name = 'noormme-queue-listen' AND query = 'LISTEN \"{channel}\"'",
    )
    assert killed == [(True,)]
    await asyncio.wait_for(woken.wait(), 10)  # back: it looks for work it may have missed
    woken.clear()
    await producer.enqueue([new_job()])
    await asyncio.wait_for(woken.wait(), 5)  # and it listens again
    await stop()
    await worker_side.close()
    await producer.close()


async def test_the_store_works_from_any_event_loop(pg: PostgresStore) -> None:
    job = new_job()
    await pg.enqueue([job])
    seen: list[object] = []

    def elsewhere() -> None:  # what the lease keeper does: its own thread, its own loop
        seen.append(asyncio.run(pg.get(job.id)))
        seen.append(asyncio.run(pg.stats()))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    await asyncio.to_thread(thread.join)
    got = await pg.claim(["t"], 1, now=T0, lease_until=T0 + 30, worker_id="w")
    assert [j.id for j in got.jobs] == [job.id]
    assert len(seen) == 2 and getattr(seen[0], "id", None) == job.id
    assert await pg.settle([Completed(job.id, got.token, "1", attempt(1))], now=T0) == [True]


# -- migrations --------------------------------------------------------------------------------


async def test_many_stores_opening_at_once_migrate_once(url: str) -> None:
    stores = [PostgresStore(url, max_connections=1) for _ in range(8)]
    await asyncio.gather(*(s.open() for s in stores))
    for store in stores:
        await store.close()
    again = PostgresStore(url)
    await again.open()  # idempotent
    await again.close()
    assert sql(url, "SELECT key, value FROM noormme_meta") == [
        ("schema_version", str(SCHEMA_VERSION))
    ]
    tables = sql(url, f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema_of(url)}'")
    assert sorted(str(t[0]) for t in tables) == [
        "noormme_counts",
        "noormme_jobs",
        "noormme_meta",
        "noormme_minutes",
        "noormme_queues",
        "noormme_rates",
        "noormme_schedules",
        "noormme_starts",
        "noormme_types",
        "noormme_workers",
    ]


async def test_a_schema_from_a_newer_version_is_refused(pg: PostgresStore, url: str) -> None:
    sql(url, "UPDATE noormme_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNew, match=r"version 99.*upgrade noormme-queue"):
        await PostgresStore(url).open()


async def test_a_jobs_table_it_did_not_create_is_left_alone(url: str) -> None:
    sql(url, "CREATE TABLE noormme_jobs (id text)")
    with pytest.raises(StoreCorrupt, match="did not create"):
        await PostgresStore(url).open()


async def test_a_search_path_naming_no_schema_is_reported() -> None:
    with pytest.raises(StoreUnavailable, match="CREATE SCHEMA"):
        await PostgresStore(schema_url("nq_does_not_exist")).open()


# -- errors and description --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_names_host_and_database_but_not_the_password() -> None:
    port = free_port()
    store = PostgresStore(f"postgresql://queue:s3cr3t-pw@127.0.0.1:{port}/jobs")
    assert store.description == f"postgresql://queue@127.0.0.1:{port}/jobs"
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    message = str(caught.value)
    assert f"127.0.0.1:{port}/jobs" in message and "refused" in message.lower()
    chain: BaseException | None = caught.value
    while chain is not None:
        assert "s3cr3t-pw" not in str(chain)
        chain = chain.__cause__


async def test_a_postgres_url_selects_this_store(url: str) -> None:
    with_password = url.replace("postgresql://postgres@", "postgresql://postgres:pw-xyz@")
    store = store_from_config(QueueConfig(database_url=with_password))
    assert isinstance(store, PostgresStore)
    assert "pw-xyz" not in store.description
    await store.open()  # trust authentication ignores the password
    assert (await store.stats()).total == 0
    await store.close()


async def test_a_closed_store_reopens_on_use(url: str) -> None:
    store = PostgresStore(url)
    await store.open()
    await store.close()
    assert (await store.stats()).total == 0
    await store.close()


def test_the_test_server_is_reachable() -> None:
    with admin() as conn:  # the suite fails (never skips) without PostgreSQL
        assert conn.execute("SELECT 1").fetchone() == (1,)


async def test_old_starts_past_one_claims_batch_are_forgotten_by_the_next_claims(
    pg: PostgresStore, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More starts left the window than one claim forgets (claim.FORGET_BATCH): each claim
    # forgets a batch, and the rest count against their key until they are gone, so a
    # claim may start fewer jobs than the limit allows but never more.
    monkeypatch.setattr(pg_claim, "FORGET_BATCH", 2)
    limits = TypeLimits(rate=RateLimit(3, 60.0))
    assert await pg.define_types([TypeDefinition("t", "default", limits, "test", T0)]) == []
    sql(
        url,
        f"INSERT INTO noormme_starts SELECT 't', '', {T0 - 100} - i FROM generate_series(1, 5) i",
    )
    sql(url, "INSERT INTO noormme_rates (type, limit_key, n) VALUES ('t', '', 5)")
    await pg.enqueue([new_job() for _ in range(6)])
    taken = []
    for _ in range(4):
        got = await pg.claim(["t"], 10, now=T0, lease_until=T0 + 30, worker_id="w")
        taken.append(len(got.jobs))
    # 5 old starts, 2 forgotten a claim: 3 still counted (no room), then 1 (room for 2),
    # then none (the 2 new starts counted, room for 1); then 3 new starts fill the window.
    assert taken == [0, 2, 1, 0]
    assert sql(url, "SELECT n FROM noormme_rates WHERE type = 't'") == [(3,)]
    assert sql(url, f"SELECT count(*) FROM noormme_starts WHERE started_at <= {T0 - 60}") == [(0,)]
