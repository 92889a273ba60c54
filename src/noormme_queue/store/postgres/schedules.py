"""The schedule operations of the PostgreSQL store (recurring jobs).

A fire is a compare-and-set ``UPDATE`` on the schedule's row and the ``INSERT`` of its jobs
in one transaction. Of several processes firing the same tick, the first takes the row
lock; the others wait for it, then find ``next_run_at`` moved on and write nothing
(``READ COMMITTED`` re-checks the condition on the new row version).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ..base import Fire, NewJob, NewSchedule, StoredSchedule
from ..rows import job_template, read_schedule
from . import sql
from .pool import Conn

T = TypeVar("T")


class _Plumbing(Protocol):
    async def _run(self, fn: Callable[[Conn], T], *, write: bool = ...) -> T: ...

    def _insert(
        self, conn: Conn, jobs: Sequence[NewJob], wake: dict[str, str] | None = None
    ) -> list[str]: ...


class ScheduleOperations:
    """Mixed into :class:`~noormme_queue.store.postgres.store.PostgresStore`."""

    async def save_schedule(
        self: _Plumbing, schedule: NewSchedule, *, now: float
    ) -> StoredSchedule:
        params = {
            "name": schedule.name,
            "job": job_template(schedule.job),
            "cron": schedule.cron,
            "every": schedule.every,
            "timezone": schedule.timezone,
            "missed": schedule.missed,
            "next_run_at": schedule.next_run_at,
            "now": now,
        }

        def write(conn: Conn) -> StoredSchedule:
            with conn.transaction():
                conn.execute(sql.SAVE_SCHEDULE, params)
                row = conn.execute(sql.GET_SCHEDULE, {"name": schedule.name}).fetchone()
            assert row is not None
            return read_schedule(row)

        return await self._run(write, write=True)

    async def get_schedule(self: _Plumbing, name: str) -> StoredSchedule | None:
        def read(conn: Conn) -> StoredSchedule | None:
            row = conn.execute(sql.GET_SCHEDULE, {"name": name}).fetchone()
            return None if row is None else read_schedule(row)

        return await self._run(read)

    async def list_schedules(self: _Plumbing) -> list[StoredSchedule]:
        def read(conn: Conn) -> list[StoredSchedule]:
            return [read_schedule(row) for row in conn.execute(sql.LIST_SCHEDULES)]

        return await self._run(read)

    async def delete_schedule(self: _Plumbing, name: str) -> bool:
        def write(conn: Conn) -> bool:
            return conn.execute(sql.DELETE_SCHEDULE, {"name": name}).rowcount == 1

        return await self._run(write, write=True)

    async def pause_schedule(self: _Plumbing, name: str, *, now: float) -> bool:
        def write(conn: Conn) -> bool:
            return conn.execute(sql.PAUSE_SCHEDULE, {"name": name, "now": now}).rowcount == 1

        return await self._run(write, write=True)

    async def resume_schedule(
        self: _Plumbing, name: str, *, revision: int, next_run_at: float, now: float
    ) -> bool:
        params = {"name": name, "revision": revision, "next_run_at": next_run_at, "now": now}

        def write(conn: Conn) -> bool:
            return conn.execute(sql.RESUME_SCHEDULE, params).rowcount == 1

        return await self._run(write, write=True)

    async def due_schedules(self: _Plumbing, *, now: float, limit: int) -> list[StoredSchedule]:
        def read(conn: Conn) -> list[StoredSchedule]:
            rows = conn.execute(sql.DUE_SCHEDULES, {"now": now, "limit": limit})
            return [read_schedule(row) for row in rows]

        return await self._run(read)

    async def next_schedule_at(self: _Plumbing) -> float | None:
        def read(conn: Conn) -> float | None:
            row = conn.execute(sql.NEXT_SCHEDULE_AT).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._run(read)

    async def fire_schedules(
        self: _Plumbing, fires: Sequence[Fire], *, now: float
    ) -> list[list[str] | None]:
        if not fires:
            return []
        store = self

        def fire(conn: Conn, one: Fire) -> list[str] | None:
            params = {
                "name": one.name,
                "revision": one.revision,
                "next_run_at": one.next_run_at,
                "new_next_run_at": one.new_next_run_at,
                "ran_at": one.ran_at,
            }
            with conn.transaction():  # the compare-and-set and its jobs, all or nothing
                if conn.execute(sql.FIRE_SCHEDULE, params).rowcount != 1:
                    return None  # fired elsewhere already, or changed since it was read
                ids = store._insert(conn, one.jobs) if one.jobs else []
                if ids:
                    conn.execute(sql.SCHEDULE_LAST_JOB, {"job_id": ids[-1], "name": one.name})
            return ids

        def write(conn: Conn) -> list[list[str] | None]:
            return [fire(conn, one) for one in fires]

        return await self._run(write, write=True)
