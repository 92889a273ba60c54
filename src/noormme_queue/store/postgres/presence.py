"""Live workers, per-minute activity and the doctor's health report on PostgreSQL. Part of
:class:`PostgresStore`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from ...core.health import StoreHealth, StuckLease
from ...core.workers import WorkerInfo
from ..base import MinuteActivity, WorkerBeat
from ..presence import beat_row, read_activity, read_worker
from ..rows import SCHEDULED
from . import schema as ddl
from . import sql
from .pool import Conn

T = TypeVar("T")


class _Plumbing(Protocol):
    @property
    def description(self) -> str: ...

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = ...) -> T: ...


class PresenceOperations:
    """Mixed into :class:`~noormme_queue.store.postgres.store.PostgresStore`."""

    async def beat(self: _Plumbing, worker: WorkerBeat, *, now: float) -> int:
        row = beat_row(worker, now)

        def write(conn: Conn) -> int:
            with conn.transaction():
                conn.execute(sql.BEAT, row)
                aged = conn.execute(sql.AGE_OUT_WORKERS, {"now": now, "id": worker.id})
                return aged.rowcount

        return await self._run(write, write=True)

    async def forget_worker(self: _Plumbing, worker_id: str) -> bool:
        def write(conn: Conn) -> bool:
            return conn.execute(sql.FORGET_WORKER, {"id": worker_id}).rowcount == 1

        return await self._run(write, write=True)

    async def workers(self: _Plumbing, *, now: float) -> list[WorkerInfo]:
        def read(conn: Conn) -> list[WorkerInfo]:
            return [read_worker(r) for r in conn.execute(sql.LIVE_WORKERS, {"now": now})]

        return await self._run(read)

    async def activity(self: _Plumbing, *, since: float) -> list[MinuteActivity]:
        def read(conn: Conn) -> list[MinuteActivity]:
            return read_activity(conn.execute(sql.ACTIVITY, {"minute": int(since // 60)}))

        return await self._run(read)

    async def health(self: _Plumbing, *, stuck_before: float, limit: int) -> StoreHealth:
        description = self.description

        def read(conn: Conn) -> StoreHealth:
            version = conn.execute(ddl.READ_VERSION).fetchone()
            pending: dict[str, int] = {}
            for queue, status, n in conn.execute(sql.QUEUE_COUNTS):
                if status in ("pending", SCHEDULED):
                    pending[queue] = pending.get(queue, 0) + int(n)
            paused = sorted(r[0] for r in conn.execute(sql.PAUSED_QUEUES))
            args = {"before": stuck_before, "limit": limit}
            stuck = conn.execute(sql.STUCK_LEASES, args).fetchall()
            count = conn.execute(sql.COUNT_STUCK, args).fetchone()
            clock = conn.execute(sql.DATABASE_CLOCK).fetchone()
            assert clock is not None and count is not None
            return StoreHealth(
                backend="postgresql",
                description=description,
                schema_version=int(version[0]) if version else 0,
                code_version=ddl.SCHEMA_VERSION,
                database_clock=float(clock[0]),
                stuck=tuple(StuckLease(i, t, w, float(u)) for i, t, w, u in stuck),
                stuck_count=int(count[0]),
                paused=tuple((name, pending.get(name, 0)) for name in paused),
                pending_types=tuple(r[0] for r in conn.execute(sql.PENDING_TYPES)),
            )

        return await self._run(read)
