"""A hypothesis state machine: each store against a plain-Python model, with a pinned clock."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from noormme_queue.core.job import Attempt, AttemptOutcome, JobStatus
from noormme_queue.core.routing import TypeDefinition, TypeLimits
from noormme_queue.engine.outcomes import settle_expired
from noormme_queue.store import Completed, Failed, JobStore, Outcome, Released
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.sqlite import SQLiteStore

from ..pg import fresh_schema
from .conftest import T0, new_job

LEASE = 30.0
QUEUES = ["default", "emails"]
U_LIMIT = 1


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
        # "u" may have one job processing at a time, across every worker.
        limited = TypeDefinition("u", "default", TypeLimits(concurrency=U_LIMIT), "model", T0)
        self.run(self.store.define_types([limited]))

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

    @rule(
        priority=st.integers(-2, 2),
        delay=st.sampled_from([0.0, 0.0, 5.0, 50.0]),
        max_attempts=st.integers(1, 3),
        type_=st.sampled_from(["t", "u"]),
        queue=st.sampled_from(QUEUES),
    )
    def enqueue(
        self, priority: int, delay: float, max_attempts: int, type_: str, queue: str
    ) -> None:
        job = new_job(
            type_,
            priority=priority,
            run_at=self.now + delay,
            created_at=self.now,
            max_attempts=max_attempts,
            queue=queue,
        )
        assert self.run(self.store.enqueue([job])) == [job.id]
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

    @rule(limit=st.integers(1, 4), only=st.sampled_from([None, "default", "emails"]))
    def claim(self, limit: int, only: str | None) -> None:
        queues = None if only is None else {only: limit}
        got = self.run(
            self.store.claim(
                ["t", "u"],
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
            and (only is None or m.queue == only)
        )
        room = U_LIMIT - sum(
            1 for m in self.jobs.values() if m.status == "processing" and m.type == "u"
        )
        expected: list[str] = []
        for *_, i in due:
            if len(expected) == limit:
                break
            if self.jobs[i].type == "u":
                if room <= 0:
                    continue  # held back by its limit; the claim takes the next one
                room -= 1
            expected.append(i)
        assert [j.id for j in got.jobs] == expected
        for job_id in expected:
            m = self.jobs[job_id]
            m.status, m.token, m.lease_until = "processing", got.token, self.now + LEASE
            m.attempts += 1
            m.events.append("claimed")

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

    @rule(seconds=st.sampled_from([1.0, 10.0, 31.0]))
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
            assert (row.queue, row.type) == (m.queue, m.type)
            events = self.run(self.store.job_events(job_id, limit=100))
            assert [e.kind.value for e in events] == m.events, job_id
        for job_id in self.purged:  # cleanup takes a job's timeline with it
            assert self.run(self.store.job_events(job_id, limit=100)) == []
        running_u = sum(1 for m in self.jobs.values() if m.status == "processing" and m.type == "u")
        assert running_u <= U_LIMIT
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
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


SQLiteMachine.TestCase.settings = _settings(40)
PostgresMachine.TestCase.settings = _settings(40)  # a fresh schema per example: ~2 s in all
TestSQLiteStateMachine = SQLiteMachine.TestCase
TestPostgresStateMachine = PostgresMachine.TestCase
