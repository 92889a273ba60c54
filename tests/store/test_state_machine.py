"""A hypothesis state machine: each store against a plain-Python model, with a pinned clock.

The model knows every job and every start of a rate-limited type, and says exactly what a
claim returns: the due jobs (pending, ``run_at`` reached, queue not paused, of the claimed
types and queues) in claim order (highest priority, then ``run_at``, then creation), taken
while the claim's limit allows, skipping each job whose type's limits leave its
``limit_key`` no room (a job without a key shares the key ``None``):

- concurrency: the key's jobs processing now, plus those taken by this claim, < the limit;
- rate: the key's starts in the window ``(now - window, now]``, plus this claim's, < the
  count (a start is a claim; a released, failed or cancelled job's start still counts).

So a claim that breaks a limit, and one that withholds a job it should have given, both fail.
(The store reads at most ``LOOK_AHEAD`` candidates past a saturated key: an example never has
that many jobs, so the model need not know it.)
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from noormme_queue.core.job import Attempt, AttemptOutcome, JobStatus
from noormme_queue.core.routing import RateLimit, TypeDefinition, TypeLimits
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Completed, Failed, JobStore, Outcome, Released
from noormme_queue.store.claiming import LOOK_AHEAD
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.sqlite import SQLiteStore

from ..pg import fresh_schema
from .conftest import T0, new_job

LEASE = 30.0
QUEUES = ["default", "emails"]
KEYS = [None, "a"]
# "t" has no limits; the others hold across every worker, per limit_key.
LIMITS = {
    "u": TypeLimits(concurrency=1),
    "r": TypeLimits(rate=RateLimit(2, 30.0)),
    "w": TypeLimits(concurrency=2, rate=RateLimit(3, 10.0)),
}
TYPES = ["t", *LIMITS]
CLAIMED = [tuple(TYPES), ("t",), ("u", "r"), ("r", "w")]
STEPS, BATCH, INITIAL = 30, 3, 9
assert (
    INITIAL + STEPS * BATCH < LOOK_AHEAD
)  # no example has more jobs than a claim looks past a full key


@dataclass
class Model:
    status: str
    priority: int
    run_at: float
    created: int
    attempts: int = 0
    max_attempts: int = 2
    budget: int = 2
    type: str = "t"
    queue: str = "default"
    limit_key: str | None = None
    token: str | None = None
    lease_until: float | None = None
    finished_at: float | None = None
    events: list[str] = field(default_factory=list)
    """The kinds its timeline must show, in order."""


def _attempt(n: int, now: float) -> Attempt:
    at = datetime.fromtimestamp(now, UTC)
    return Attempt(n, AttemptOutcome.FAILED, at, at, "w", "e", None)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cleanup = ExitStack()
        self.loop = asyncio.new_event_loop()
        self.store = self.make_store()
        self.run(self.store.open())
        self.now = T0
        self.jobs: dict[str, Model] = {}
        self.created = 0
        self.paused: set[str] = set()
        self.purged: list[str] = []
        self.starts: dict[tuple[str, str | None], list[float]] = {}
        limited = [TypeDefinition(t, "default", lim, "model", T0) for t, lim in LIMITS.items()]
        assert self.run(self.store.define_types(limited)) == []

    def make_store(self) -> JobStore:
        raise NotImplementedError

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        with self.cleanup:
            self.run(self.store.close())
            self.loop.close()

    def held(self) -> list[str]:
        return sorted(i for i, m in self.jobs.items() if m.status == "processing")

    def running(self, type_: str, key: str | None) -> int:
        return sum(
            1
            for m in self.jobs.values()
            if m.status == "processing" and (m.type, m.limit_key) == (type_, key)
        )

    def started(self, type_: str, key: str | None) -> int:
        """Starts of the key in its type's rate window ending now."""
        rate = LIMITS[type_].rate
        assert rate is not None
        return sum(1 for at in self.starts.get((type_, key), []) if at > self.now - rate.window)

    def room(self, type_: str, key: str | None) -> float:
        """How many more jobs of the key may start now."""
        limits = LIMITS.get(type_)
        if limits is None:
            return float("inf")
        room = float("inf")
        if limits.concurrency is not None:
            room = limits.concurrency - self.running(type_, key)
        if limits.rate is not None:
            room = min(room, limits.rate.count - self.started(type_, key))
        return room

    @initialize(
        groups=st.lists(
            st.tuples(st.sampled_from(list(LIMITS)), st.sampled_from(KEYS), st.integers(1, BATCH)),
            min_size=1,
            max_size=INITIAL // BATCH,
        ),
        priority=st.integers(-2, 2),
    )
    def due_limited_jobs(self, groups: list[tuple[str, str | None, int]], priority: int) -> None:
        """Start with due jobs of the limited types, a few of a key at a time, so most
        examples put the limits to work."""
        jobs = [(t, "default", key, priority) for t, key, n in groups for _ in range(n)]
        self.add(jobs, 0.0, 2)

    @rule(
        priorities=st.lists(st.integers(-2, 2), min_size=1, max_size=BATCH),
        key=st.sampled_from(KEYS),
        delay=st.sampled_from([0.0, 0.0, 0.0, 5.0, 50.0]),
        max_attempts=st.integers(1, 3),
        type_=st.sampled_from(TYPES),
        queue=st.sampled_from(QUEUES),
    )
    def enqueue(
        self,
        priorities: list[int],
        key: str | None,
        delay: float,
        max_attempts: int,
        type_: str,
        queue: str,
    ) -> None:
        """A batch of jobs of one type, queue and limit_key."""
        self.add([(type_, queue, key, p) for p in priorities], delay, max_attempts)

    def add(
        self, jobs: list[tuple[str, str, str | None, int]], delay: float, max_attempts: int
    ) -> None:
        """Enqueue (type, queue, limit_key, priority) jobs in one batch, due after ``delay``."""
        batch = [
            new_job(
                type_,
                priority=priority,
                run_at=self.now + delay,
                created_at=self.now,
                max_attempts=max_attempts,
                queue=queue,
                limit_key=key,
            )
            for type_, queue, key, priority in jobs
        ]
        assert self.run(self.store.enqueue(batch)) == [job.id for job in batch]
        for job, (type_, queue, key, priority) in zip(batch, jobs, strict=True):
            self.created += 1
            self.jobs[job.id] = Model(
                "pending",
                priority,
                self.now + delay,
                self.created,
                max_attempts=max_attempts,
                budget=max_attempts,
                type=type_,
                queue=queue,
                limit_key=key,
                events=["enqueued"],
            )

    @rule(queue=st.sampled_from(QUEUES), paused=st.booleans())
    def pause_or_resume(self, queue: str, paused: bool) -> None:
        changed = self.run(self.store.set_paused(queue, paused, now=self.now))
        assert changed == ((queue in self.paused) != paused)
        if paused:
            self.paused.add(queue)
        else:
            self.paused.discard(queue)

    @precondition(lambda self: any(m.status == "pending" for m in self.jobs.values()))
    @rule(
        limit=st.integers(1, 4),
        only=st.sampled_from([None, "default", "emails"]),
        types=st.sampled_from(CLAIMED),
    )
    def claim(self, limit: int, only: str | None, types: tuple[str, ...]) -> None:
        self.claim_as(limit, only, types)

    @precondition(lambda self: any(m.status == "pending" for m in self.jobs.values()))
    @rule(limits=st.lists(st.integers(1, 4), min_size=2, max_size=3))
    def workers_claim_in_turn(self, limits: list[int]) -> None:
        """Workers claiming every type one after the other, at the same moment."""
        for limit in limits:
            self.claim_as(limit, None, tuple(TYPES))

    def claim_as(self, limit: int, only: str | None, types: tuple[str, ...]) -> None:
        queues = None if only is None else {only: limit}
        got = self.run(
            self.store.claim(
                list(types),
                limit,
                now=self.now,
                lease_until=self.now + LEASE,
                worker_id="w",
                queues=queues,
            )
        )
        due = sorted(
            (m.priority * -1, m.run_at, m.created, i)
            for i, m in self.jobs.items()
            if m.status == "pending"
            and m.run_at <= self.now
            and m.queue not in self.paused
            and m.type in types
            and (only is None or m.queue == only)
        )
        room: dict[tuple[str, str | None], float] = {}
        expected: list[str] = []
        for *_, i in due:
            if len(expected) == limit:
                break
            m = self.jobs[i]
            key = (m.type, m.limit_key)
            left = room.setdefault(key, self.room(*key))
            if left <= 0:
                continue  # held back by its limits; the claim takes the next one
            room[key] = left - 1
            expected.append(i)
        assert [j.id for j in got.jobs] == expected
        for job_id in expected:
            m = self.jobs[job_id]
            m.status, m.token, m.lease_until = "processing", got.token, self.now + LEASE
            m.attempts += 1
            m.events.append("claimed")
            limits = LIMITS.get(m.type)
            if limits is not None and limits.rate is not None:
                self.starts.setdefault((m.type, m.limit_key), []).append(self.now)

    @rule(data=st.data(), outcome=st.sampled_from(["complete", "retry", "fail", "release"]))
    def settle(self, data: st.DataObject, outcome: str) -> None:
        held = self.held()
        if not held:
            return
        job_id = data.draw(st.sampled_from(held))
        m = self.jobs[job_id]
        assert m.token is not None
        stale = data.draw(st.booleans())
        token = "stale-token" if stale else m.token
        result: Outcome
        if outcome == "complete":
            result = Completed(job_id, token, "1", _attempt(m.attempts, self.now))
        elif outcome == "retry":
            result = Failed(job_id, token, _attempt(m.attempts, self.now), self.now + 10)
        elif outcome == "fail":
            result = Failed(job_id, token, _attempt(m.attempts, self.now), None)
        else:
            result = Released(job_id, token)
        applied = self.run(self.store.settle([result], now=self.now))
        assert applied == [not stale]
        if stale:
            return
        m.token = m.lease_until = None
        m.events += {
            "complete": ["completed"],
            "retry": ["failed", "retry_scheduled"],
            "fail": ["failed"],
            "release": ["released"],
        }[outcome]
        if outcome == "complete":
            m.status, m.finished_at = "completed", self.now
        elif outcome == "retry":
            m.status, m.run_at = "pending", self.now + 10
        elif outcome == "fail":
            m.status, m.finished_at = "failed", self.now
        else:
            m.status = "pending"
            m.attempts -= 1

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.jobs:
            return
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        m = self.jobs[job_id]
        before = self.run(self.store.cancel(job_id, now=self.now))
        if m.status in ("pending", "processing"):
            assert before == JobStatus(m.status)
            m.status, m.finished_at, m.token, m.lease_until = "cancelled", self.now, None, None
            m.events.append("cancelled")
        else:
            assert before is None

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if not self.jobs:
            return
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        m = self.jobs[job_id]
        ok = self.run(self.store.retry(job_id, now=self.now))
        assert ok == (m.status in ("failed", "cancelled"))
        if ok:  # the runs go on counting; a fresh budget of them
            m.status, m.run_at, m.finished_at = "pending", self.now, None
            m.max_attempts = m.attempts + m.budget
            m.events.append("retried")

    @rule(seconds=st.sampled_from([1.0, 5.0, 10.0, 31.0]))
    def advance_and_recover(self, seconds: float) -> None:
        self.now += seconds
        expired = self.run(self.store.expired_leases(now=self.now, limit=1000))
        expected = {
            i
            for i, m in self.jobs.items()
            if m.status == "processing" and (m.lease_until or 0) < self.now
        }
        assert {e.job.id for e in expired} == expected
        outcomes = [settle_expired(e, now=self.now) for e in expired]
        assert self.run(self.store.settle(outcomes, now=self.now)) == [True] * len(outcomes)
        for job_id in expected:
            m = self.jobs[job_id]
            m.token = m.lease_until = None
            m.events.append("lease_expired")
            if m.attempts >= m.max_attempts:
                m.status, m.finished_at = "failed", self.now
            else:
                m.status, m.run_at = "pending", self.now
                m.events.append("retry_scheduled")

    @rule(age=st.sampled_from([0.0, 5.0, 100.0]))
    def purge(self, age: float) -> None:
        cutoff = self.now - age
        removed = self.run(self.store.purge(finished_before=cutoff, limit=1000))
        gone = [
            i
            for i, m in self.jobs.items()
            if m.status in ("completed", "cancelled")
            and m.finished_at is not None
            and m.finished_at < cutoff
        ]
        assert removed == len(gone)
        for job_id in gone:
            del self.jobs[job_id]
        self.purged += gone

    @invariant()
    def counts_and_rows_match_the_model(self) -> None:
        stats = self.run(self.store.stats())
        assert stats.total == len(self.jobs)
        for status in JobStatus:
            expected = sum(1 for m in self.jobs.values() if m.status == status.value)
            assert getattr(stats, status.value) == expected
        for job_id, m in self.jobs.items():
            row = self.run(self.store.get(job_id))
            assert row is not None
            assert (row.status.value, row.attempts) == (m.status, m.attempts)
            assert row.max_attempts == m.max_attempts
            assert (row.queue, row.type, row.limit_key) == (m.queue, m.type, m.limit_key)
            events = self.run(self.store.job_events(job_id, limit=100))
            assert [e.kind.value for e in events] == m.events, job_id
        for job_id in self.purged:  # cleanup takes a job's timeline with it
            assert self.run(self.store.job_events(job_id, limit=100)) == []
        for type_, limits in LIMITS.items():
            for key in KEYS:
                if limits.concurrency is not None:
                    assert self.running(type_, key) <= limits.concurrency
                if limits.rate is not None:
                    assert self.started(type_, key) <= limits.rate.count
        queues = {q.name: q for q in self.run(self.store.queues())}
        for name in QUEUES:
            expected_pending = sum(
                1 for m in self.jobs.values() if m.queue == name and m.status == "pending"
            )
            info = queues.get(name)
            assert (info.pending if info else 0) == expected_pending
            assert (info.paused if info else False) == (name in self.paused)


class SQLiteMachine(StoreMachine):
    def make_store(self) -> JobStore:
        directory = Path(tempfile.mkdtemp())
        self.cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
        return SQLiteStore(directory / "q.db")


class PostgresMachine(StoreMachine):
    def make_store(self) -> JobStore:
        return PostgresStore(self.cleanup.enter_context(fresh_schema()))


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


SQLiteMachine.TestCase.settings = _settings(80)
PostgresMachine.TestCase.settings = _settings(40)  # a fresh schema per example
# A failing example is shrunk for up to five minutes (Hypothesis's own bound), each try on a
# fresh store: the time it needs to name the shortest failing steps, not a passing run's.
SHRINKING = pytest.mark.timeout(420)
TestSQLiteStateMachine = SHRINKING(SQLiteMachine.TestCase)
TestPostgresStateMachine = SHRINKING(PostgresMachine.TestCase)
