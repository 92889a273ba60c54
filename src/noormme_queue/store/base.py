"""The storage seam: what the worker and manager may ask of a job store.

Operations are named after job state changes and take batches, so one
transaction serves many jobs. Times are Unix seconds passed in by the caller
(never read inside SQL), so a pinned clock controls every transition. A store
holds payloads and results as opaque JSON text and never imports a handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..core.events import JobEvent
from ..core.health import StoreHealth
from ..core.job import Attempt, Job, JobStatus, QueueInfo, QueueStats
from ..core.routing import TypeDefinition as TypeDefinition
from ..core.workers import WorkerInfo

GIVE_UP_AFTER = 60.0
"""Seconds a store waits for a lock another connection holds before it fails with
``StoreUnavailable``: every write and opening the store (its migration) alike."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated job ready to be written."""

    id: str
    type: str
    payload: str  # JSON text
    priority: int
    max_attempts: int
    run_at: float
    created_at: float
    retry_policy: str | None = None  # JSON text
    unique_key: str | None = None
    timeout: float | None = None
    queue: str | None = None
    """``None``: the queue a worker stored for the type (``noormme_types``), else default."""
    limit_key: str | None = None
    schedule: str | None = None
    """The name of the schedule that made it, if one did."""
    traceparent: str | None = None
    """The W3C ``traceparent`` of the span that enqueued it (with the extra ``otel``)."""
    by: str | None = None
    """How it was enqueued (``python``, ``api``, ``schedule``, ...): its first event's."""


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """A checked schedule to create, or to update in place (``save_schedule``)."""

    name: str
    job: NewJob
    """The job every tick makes (its ``id``, ``run_at`` and ``created_at`` are stamped then)."""
    cron: str | None
    every: float | None
    timezone: str
    missed: str
    next_run_at: float
    """The first tick, used when the schedule is new or its timing changed."""


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule as stored. ``revision`` grows with every change of its definition or of
    its paused state: firing a tick is a compare-and-set on it and on ``next_run_at``."""

    name: str
    job: NewJob
    cron: str | None
    every: float | None
    timezone: str
    missed: str
    paused: bool
    next_run_at: float
    last_run_at: float | None
    last_job_id: str | None
    last_status: JobStatus | None
    """The status of the job ``last_job_id`` names, if it still exists."""
    revision: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Fire:
    """One scheduler pass over one due schedule: applied only if the schedule still has
    ``revision`` and ``next_run_at``, and then together with its jobs, in one transaction."""

    name: str
    revision: int
    next_run_at: float
    """The tick the caller saw due (the compare-and-set)."""
    new_next_run_at: float
    ran_at: float | None
    """The tick of the last job (the schedule's ``last_run_at``); ``None`` for no job."""
    jobs: tuple[NewJob, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """Jobs handed to one worker by one ``claim`` call."""

    token: str
    jobs: list[Job]
    next_run_at: float | None
    """When the earliest pending job of the claimed types becomes due (if none was left due)."""


@dataclass(frozen=True, slots=True)
class Completed:
    job_id: str
    token: str
    result: str  # JSON text
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class Failed:
    job_id: str
    token: str
    attempt: Attempt
    retry_at: float | None
    """When to run again, or ``None`` to fail for good (the dead-letter record)."""


@dataclass(frozen=True, slots=True)
class Released:
    """Put back to ``pending`` without spending the attempt (graceful shutdown)."""

    job_id: str
    token: str
    worker_id: str | None = None


Outcome = Completed | Failed | Released


@dataclass(frozen=True, slots=True)
class Expired:
    """A ``processing`` job whose lease ran out: its worker was killed, hung or cut off.

    The rescuer settles it like any attempt (a :class:`Failed` with the claim ``token``), so
    the compare-and-set keeps a job its worker finished meanwhile as it is.
    """

    job: Job
    token: str


@dataclass(frozen=True, slots=True)
class FinishedCount:
    """Jobs that finished in one time bucket (the dashboard's throughput chart)."""

    bucket: int
    """Index of the bucket: it starts at ``since + bucket * width``."""
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """One heartbeat of a worker: its row in ``noormme_workers``, written whole."""

    id: str
    host: str
    pid: int
    queues: tuple[str, ...] | None
    concurrency: int
    types: tuple[str, ...]
    jobs: tuple[str, ...]
    started_at: float
    expires_at: float
    """Readers take it for dead after this (its ``now`` plus its time to live)."""


@dataclass(frozen=True, slots=True)
class MinuteActivity:
    """One queue's kept counts for one minute (``noormme_minutes``)."""

    minute: int
    """Unix time // 60."""
    queue: str
    completed: int
    failed: int
    started: int
    wait_sum: float
    """Seconds from due to start, summed over the jobs started."""
    wait_max: float


class JobStore(Protocol):
    """Every backend implements this; the conformance suite in tests/store runs on each."""

    @property
    def description(self) -> str:
        """Where the jobs live, safe to show (no password)."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        """Call ``on_wakeup`` (on this event loop) when another process adds work.

        Returns an async function that stops listening. A backend without push
        notifications returns a no-op: workers then poll.
        """
        ...

    async def enqueue(self, jobs: Sequence[NewJob]) -> list[str]:
        """Write ``jobs`` in one transaction; a live job with the same unique key wins."""
        ...

    def enqueue_on(self, connection: object, jobs: Sequence[NewJob]) -> list[str]:
        """``enqueue``'s write through the caller's open connection to this store's database
        (a ``sqlite3.Connection`` on its file, a psycopg ``Connection`` to its database),
        inside the caller's transaction: the jobs exist if and only if the caller commits.
        Sync, on the caller's thread, where its connection lives. A connection elsewhere is
        refused (``InvalidJob``, field ``connection``)."""
        ...

    def transaction_open(self, connection: object) -> bool:
        """Whether ``connection`` is inside a transaction (``enqueue_on``'s jobs are then
        written only once the caller commits)."""
        ...

    def notify_committed(self) -> None:
        """Wake other processes' workers after the caller committed jobs of ``enqueue_on``
        (where the commit itself does not: PostgreSQL's notification rides it)."""
        ...

    async def claim(
        self,
        types: Sequence[str],
        limit: int,
        *,
        now: float,
        lease_until: float,
        worker_id: str,
        queues: Mapping[str, int] | None = None,
    ) -> Claim:
        """Atomically move up to ``limit`` due jobs of ``types`` to ``processing``: from
        every queue not paused, or only from ``queues``, at most that many from each. The
        types' stored limits hold across every worker (see store/claiming.py)."""
        ...

    async def settle(self, outcomes: Sequence[Outcome], *, now: float) -> list[bool]:
        """Apply outcomes; each is a compare-and-set on status and claim token. Workers in
        other processes are woken when an outcome makes a job due at once (a release, or a
        retry due by ``now``)."""
        ...

    async def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        types: Sequence[str],
        limit: int,
        *,
        now: float,
        lease_until: float,
        worker_id: str,
        queues: Mapping[str, int] | None = None,
    ) -> tuple[list[bool], Claim]:
        """:meth:`settle` and :meth:`claim` as one write, both or neither (a worker's cycle;
        no ``outcomes``: the claim alone).
        The claim may not see what the settle changed (PostgreSQL runs both in one statement,
        on one snapshot): a job it puts back or makes due is claimable from the next claim
        on, and ``next_run_at`` may leave out a retry it schedules."""
        ...

    async def extend_leases(self, held: Sequence[tuple[str, str]], lease_until: float) -> set[str]:
        """Extend ``(job_id, token)`` leases; return the ids no longer held (cancelled, lost)."""
        ...

    async def expired_leases(self, *, now: float, limit: int) -> list[Expired]:
        """Up to ``limit`` ``processing`` jobs whose lease ended before ``now``."""
        ...

    async def save_progress(self, job_id: str, token: str, progress: str) -> bool: ...

    async def get(self, job_id: str) -> Job | None: ...

    async def job_events(self, job_id: str, *, limit: int) -> list[JobEvent]:
        """The first ``limit`` events of the job's timeline, oldest first (one index seek);
        every change above writes its events in its own transaction (store/events.py)."""
        ...

    async def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        limit: int = 50,
        before: str | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """Jobs newest first; ``before`` is the id of the last job of the previous page."""
        ...

    async def stats(self, queue: str | None = None) -> QueueStats:
        """Jobs by status, from the kept counts; of one queue when ``queue`` is given."""
        ...

    async def pending_types(self) -> list[str]:
        """Distinct types that have pending jobs."""
        ...

    async def cancel(self, job_id: str, *, now: float, by: str = ...) -> JobStatus | None:
        """Cancel a pending or processing job; return its status before, or ``None``.
        ``by``: who asked (its event's actor)."""
        ...

    async def retry(self, job_id: str, *, now: float, by: str = ...) -> bool:
        """Failed or cancelled -> pending now with a fresh budget of runs (its attempts go
        on counting: see core/retry.py ``after_manual_retry``), history kept."""
        ...

    async def set_paused(self, queue: str, paused: bool, *, now: float) -> bool:
        """Pause or resume a queue (stored: every worker's next claim obeys); ``False`` when
        it already was so. Resuming wakes the workers."""
        ...

    async def queues(self) -> list[QueueInfo]:
        """Every queue that has jobs, was paused, or a worker registered a type for."""
        ...

    async def define_types(self, types: Sequence[TypeDefinition]) -> list[TypeDefinition]:
        """Store what a worker registered; return the earlier definitions it replaced that
        differed (another process defined the type otherwise)."""
        ...

    async def type_definitions(self) -> list[TypeDefinition]: ...

    async def purge(self, *, finished_before: float, limit: int) -> int:
        """Delete up to ``limit`` completed or cancelled jobs finished before the time, and
        their events."""
        ...

    async def purge_minutes(self, *, before: float) -> int:
        """Forget the kept per-minute counts of finished jobs before ``before``."""
        ...

    async def finished_counts(self, *, since: float, width: float) -> list[FinishedCount]:
        """Completed and failed jobs per ``width``-second bucket from ``since`` on, by
        ``finished_at``; buckets with no job are left out."""
        ...

    # -- schedules (recurring jobs) ----------------------------------------------------------

    async def save_schedule(self, schedule: NewSchedule, *, now: float) -> StoredSchedule:
        """Create a schedule, or update the one with its name: its ``next_run_at`` is kept
        unless its timing (cron, every, timezone) changed, and so is its paused state; an
        identical definition changes nothing. Returns it as stored."""
        ...

    async def get_schedule(self, name: str) -> StoredSchedule | None: ...

    async def list_schedules(self) -> list[StoredSchedule]:
        """Every schedule, by name."""
        ...

    async def delete_schedule(self, name: str) -> bool:
        """Remove it (the jobs it made stay); ``False`` when no schedule has that name."""
        ...

    async def pause_schedule(self, name: str, *, now: float) -> bool:
        """No more ticks until resumed; ``False`` when no schedule has that name."""
        ...

    async def resume_schedule(
        self, name: str, *, revision: int, next_run_at: float, now: float
    ) -> bool:
        """Unpause it with its next tick, if it still has ``revision``."""
        ...

    async def due_schedules(self, *, now: float, limit: int) -> list[StoredSchedule]:
        """Up to ``limit`` unpaused schedules whose next tick is at or before ``now``,
        earliest first."""
        ...

    async def next_schedule_at(self) -> float | None:
        """The earliest next tick of any unpaused schedule."""
        ...

    async def fire_schedules(self, fires: Sequence[Fire], *, now: float) -> list[list[str] | None]:
        """Apply each fire that still matches its schedule (compare-and-set on revision and
        next tick), writing its jobs in the same transaction: the ids (a live job with the
        same unique key wins, as in ``enqueue``), or ``None`` where another process (or a
        change) got there first. Workers elsewhere are woken for the jobs."""
        ...

    # -- workers, activity and health --------------------------------------------------------

    async def beat(self, worker: WorkerBeat, *, now: float) -> int:
        """Write the worker's row (the database's clock beside ``now``, for the clock skew)
        and delete the rows of workers whose time ran out before ``now``: their number."""
        ...

    async def forget_worker(self, worker_id: str) -> bool:
        """Remove a worker's row (it stopped); ``False`` when there was none."""
        ...

    async def workers(self, *, now: float) -> list[WorkerInfo]:
        """Workers whose time has not run out by ``now``, by id."""
        ...

    async def activity(self, *, since: float) -> list[MinuteActivity]:
        """The kept per-minute counts of each queue from the minute holding ``since`` on,
        by minute then queue: minutes x queues rows, whatever the number of jobs."""
        ...

    async def health(self, *, stuck_before: float, limit: int) -> StoreHealth:
        """What the doctor checks: schema version, the database's clock, ``processing``
        jobs whose lease ended before ``stuck_before`` (up to ``limit`` of them, and their
        number), paused queues, pending types; on SQLite its pragmas, WAL and file system."""
        ...
