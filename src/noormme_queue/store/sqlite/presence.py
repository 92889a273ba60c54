"""Live workers, per-minute activity and the doctor's health report on SQLite. Part of
:class:`SQLiteStore`."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from ...core.health import SYNCHRONOUS_NAMES, Mount, StoreHealth, StuckLease, mount_of
from ...core.workers import WorkerInfo
from ..base import MinuteActivity, WorkerBeat
from ..presence import beat_row, read_activity, read_worker
from ..rows import SCHEDULED
from . import schema as ddl
from . import sql

T = TypeVar("T")
MOUNTINFO = Path("/proc/self/mountinfo")


class _Plumbing(Protocol):
    path: Path

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, notify: bool = ..., on_loop: bool = ...
    ) -> T: ...

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


class PresenceOperations:
    """Mixed into :class:`~noormme_queue.store.sqlite.store.SQLiteStore`."""

    async def beat(self: _Plumbing, worker: WorkerBeat, *, now: float) -> int:
        row = beat_row(worker, now)

        def write(conn: sqlite3.Connection) -> int:
            conn.execute(sql.BEAT, row)
            return conn.execute(sql.AGE_OUT_WORKERS, (now, worker.id)).rowcount

        return await self._write(write)

    async def forget_worker(self: _Plumbing, worker_id: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.FORGET_WORKER, (worker_id,)).rowcount == 1

        return await self._write(write)

    async def workers(self: _Plumbing, *, now: float) -> list[WorkerInfo]:
        def read(conn: sqlite3.Connection) -> list[WorkerInfo]:
            return [read_worker(r) for r in conn.execute(sql.LIVE_WORKERS, (now,))]

        return await self._read(read)

    async def activity(self: _Plumbing, *, since: float) -> list[MinuteActivity]:
        def read(conn: sqlite3.Connection) -> list[MinuteActivity]:
            return read_activity(conn.execute(sql.ACTIVITY, (int(since // 60),)))

        return await self._read(read)

    async def health(self: _Plumbing, *, stuck_before: float, limit: int) -> StoreHealth:
        def settings(conn: sqlite3.Connection) -> tuple[str, str, int]:
            mode = conn.execute(sql.JOURNAL_MODE).fetchone()[0]
            sync = int(conn.execute(sql.SYNCHRONOUS).fetchone()[0])
            busy = int(conn.execute(sql.BUSY_TIMEOUT).fetchone()[0])
            return str(mode), SYNCHRONOUS_NAMES.get(sync, str(sync)), busy

        # The writer thread's connection: the one whose settings every write runs under.
        mode, sync, busy = await self._write(settings, on_loop=False)

        def read(conn: sqlite3.Connection) -> StoreHealth:
            version = conn.execute(ddl.READ_VERSION).fetchone()
            counts = conn.execute(sql.QUEUE_COUNTS).fetchall()
            pending: dict[str, int] = {}
            for queue, status, n in counts:
                if status in ("pending", SCHEDULED):
                    pending[queue] = pending.get(queue, 0) + int(n)
            paused = sorted(r[0] for r in conn.execute(sql.PAUSED_QUEUES))
            stuck = conn.execute(sql.STUCK_LEASES, (stuck_before, limit)).fetchall()
            return StoreHealth(
                backend="sqlite",
                description=f"sqlite:///{self.path}",
                schema_version=int(version[0]) if version else 0,
                code_version=ddl.SCHEMA_VERSION,
                database_clock=float(conn.execute(sql.DATABASE_CLOCK).fetchone()[0]),
                stuck=tuple(StuckLease(i, t, w, float(u)) for i, t, w, u in stuck),
                stuck_count=int(conn.execute(sql.COUNT_STUCK, (stuck_before,)).fetchone()[0]),
                paused=tuple((name, pending.get(name, 0)) for name in paused),
                pending_types=tuple(r[0] for r in conn.execute(sql.PENDING_TYPES)),
                journal_mode=mode,
                synchronous=sync,
                busy_timeout_ms=busy,
                wal_bytes=_size(self.path.with_name(self.path.name + "-wal")),
                mount=_mount(self.path),
            )

        return await self._read(read)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mount(path: Path) -> Mount | None:
    try:
        text = MOUNTINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        return None
    return mount_of(os.path.realpath(path), text)
