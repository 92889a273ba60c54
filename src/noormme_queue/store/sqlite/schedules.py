"""The schedule operations of the SQLite store (recurring jobs), on its writer and reader.

Every write runs in the group-commit writer's ``BEGIN IMMEDIATE`` transaction, so a fire's
compare-and-set and the jobs it writes commit together or not at all, and of several
processes firing the same tick exactly one sees its compare-and-set apply.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ..base import Fire, NewSchedule, StoredSchedule
from ..rows import job_template, read_schedule
from . import sql
from .inserts import insert_jobs

T = TypeVar("T")


class _Plumbing(Protocol):
    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, notify: bool = ..., on_loop: bool = ...
    ) -> T: ...

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


class ScheduleOperations:
    """Mixed into :class:`~noormme_queue.store.sqlite.store.SQLiteStore`."""

    async def save_schedule(
        self: _Plumbing, schedule: NewSchedule, *, now: float
    ) -> StoredSchedule:
        params = (
            schedule.name,
            job_template(schedule.job),
            schedule.cron,
            schedule.every,
            schedule.timezone,
            schedule.missed,
            schedule.next_run_at,
            now,
            now,
        )

        def write(conn: sqlite3.Connection) -> StoredSchedule:
            conn.execute(sql.SAVE_SCHEDULE, params)
            return read_schedule(conn.execute(sql.GET_SCHEDULE, (schedule.name,)).fetchone())

        return await self._write(write)

    async def get_schedule(self: _Plumbing, name: str) -> StoredSchedule | None:
        def read(conn: sqlite3.Connection) -> StoredSchedule | None:
            row = conn.execute(sql.GET_SCHEDULE, (name,)).fetchone()
            return None if row is None else read_schedule(row)

        return await self._read(read)

    async def list_schedules(self: _Plumbing) -> list[StoredSchedule]:
        def read(conn: sqlite3.Connection) -> list[StoredSchedule]:
            return [read_schedule(row) for row in conn.execute(sql.LIST_SCHEDULES)]

        return await self._read(read)

    async def delete_schedule(self: _Plumbing, name: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.DELETE_SCHEDULE, (name,)).rowcount == 1

        return await self._write(write)

    async def pause_schedule(self: _Plumbing, name: str, *, now: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql.PAUSE_SCHEDULE, (now, name)).rowcount == 1

        return await self._write(write)

    async def resume_schedule(
        self: _Plumbing, name: str, *, revision: int, next_run_at: float, now: float
    ) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            params = (next_run_at, now, name, revision)
            return conn.execute(sql.RESUME_SCHEDULE, params).rowcount == 1

        return await self._write(write)

    async def due_schedules(self: _Plumbing, *, now: float, limit: int) -> list[StoredSchedule]:
        def read(conn: sqlite3.Connection) -> list[StoredSchedule]:
            return [read_schedule(r) for r in conn.execute(sql.DUE_SCHEDULES, (now, limit))]

        return await self._read(read)

    async def next_schedule_at(self: _Plumbing) -> float | None:
        def read(conn: sqlite3.Connection) -> float | None:
            value = conn.execute(sql.NEXT_SCHEDULE_AT).fetchone()[0]
            return None if value is None else float(value)

        return await self._read(read)

    async def fire_schedules(
        self: _Plumbing, fires: Sequence[Fire], *, now: float
    ) -> list[list[str] | None]:
        if not fires:
            return []

        def write(conn: sqlite3.Connection) -> list[list[str] | None]:
            return [_fire(conn, fire) for fire in fires]

        makes_jobs = any(fire.jobs for fire in fires)
        return await self._write(write, notify=makes_jobs)


def _fire(conn: sqlite3.Connection, fire: Fire) -> list[str] | None:
    params = (fire.new_next_run_at, fire.ran_at, fire.name, fire.revision, fire.next_run_at)
    if conn.execute(sql.FIRE_SCHEDULE, params).rowcount != 1:
        return None  # fired elsewhere already, or changed since it was read
    ids = insert_jobs(conn, fire.jobs)
    if ids:
        conn.execute(sql.SCHEDULE_LAST_JOB, (ids[-1], fire.name))
    return ids
