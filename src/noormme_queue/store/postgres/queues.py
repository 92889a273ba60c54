"""Queues and job types on PostgreSQL: pause and resume, the queue listing, and the stored
definitions of types (their queue and limits). Part of :class:`PostgresStore`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from ...core.job import QueueInfo
from ..base import TypeDefinition
from ..rows import queue_infos, type_definition, type_row
from . import sql
from .pool import Conn

T = TypeVar("T")
LIMITS_MAX_AGE = 1.0  # seconds a claim trusts its list of limited types

_TYPE_COLUMNS = (
    "type",
    "queue",
    "concurrency",
    "rate_count",
    "rate_window",
    "defined_by",
    "updated_at",
)


class QueueOps:
    _limited: frozenset[str]
    _concurrent: frozenset[str]
    _limited_at: float

    async def _run(self, fn: Callable[[Conn], T], *, write: bool = False) -> T:
        raise NotImplementedError

    def _wake_params(self) -> dict[str, str]:
        raise NotImplementedError

    async def set_paused(self, queue: str, paused: bool, *, now: float) -> bool:
        def write(conn: Conn) -> bool:
            with conn.transaction():
                row = conn.execute(sql.QUEUE_PAUSED, {"name": queue}).fetchone()
                if bool(row and row[0]) == paused:
                    return False
                conn.execute(sql.SET_PAUSED, {"name": queue, "paused": paused, "now": now})
                if not paused:
                    conn.execute(sql.NOTIFY, self._wake_params())
            return True

        return await self._run(write, write=True)

    async def queues(self) -> list[QueueInfo]:
        def read(conn: Conn) -> list[QueueInfo]:
            return queue_infos(
                conn.execute(sql.QUEUE_COUNTS).fetchall(),
                conn.execute(sql.QUEUES).fetchall(),
                [type_definition(r) for r in conn.execute(sql.TYPES)],
            )

        return await self._run(read)

    async def define_types(self, types: Sequence[TypeDefinition]) -> list[TypeDefinition]:
        def write(conn: Conn) -> list[TypeDefinition]:
            replaced = []
            with conn.transaction():
                # Row locks in the order a claim takes them (sql.TYPE_LIMITS: by name), so a
                # worker starting up never deadlocks with the claims of running ones.
                for definition in sorted(types, key=lambda d: d.type):
                    row = conn.execute(sql.GET_TYPE, {"type": definition.type}).fetchone()
                    if row is not None:
                        before = type_definition(row)
                        if before.same_as(definition):
                            continue
                        if before.defined_by != definition.defined_by:
                            replaced.append(before)
                    conn.execute(
                        sql.DEFINE_TYPE, dict(zip(_TYPE_COLUMNS, type_row(definition), strict=True))
                    )
            self._limited_at = -LIMITS_MAX_AGE  # read them again at the next claim
            return replaced

        return await self._run(write, write=True)

    async def type_definitions(self) -> list[TypeDefinition]:
        def read(conn: Conn) -> list[TypeDefinition]:
            return [type_definition(r) for r in conn.execute(sql.TYPES)]

        return await self._run(read)

    def _limited_types(self, conn: Conn) -> frozenset[str]:
        if time.monotonic() - self._limited_at > LIMITS_MAX_AGE:
            found = [type_definition(r) for r in conn.execute(sql.TYPES)]
            self._limited = frozenset(d.type for d in found if d.limits.any)
            self._concurrent = frozenset(d.type for d in found if d.limits.concurrency is not None)
            self._limited_at = time.monotonic()
        return self._limited
