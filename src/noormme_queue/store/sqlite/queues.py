"""Queues and job types on SQLite: pause and resume, the queue listing, and the stored
definitions of types (their queue and limits). Part of :class:`SQLiteStore`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from ...core.job import QueueInfo
from ..base import TypeDefinition
from ..rows import queue_infos, type_definition, type_row
from . import sql

T = TypeVar("T")


class QueueOps:
    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, notify: bool = False, on_loop: bool = True
    ) -> T:
        raise NotImplementedError

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def set_paused(self, queue: str, paused: bool, *, now: float) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql.QUEUE_PAUSED, (queue,)).fetchone()
            if bool(row and row[0]) == paused:
                return False
            conn.execute(sql.SET_PAUSED, (queue, int(paused), now))
            return True

        return await self._write(write, notify=not paused)

    async def queues(self) -> list[QueueInfo]:
        def read(conn: sqlite3.Connection) -> list[QueueInfo]:
            return queue_infos(
                conn.execute(sql.QUEUE_COUNTS).fetchall(),
                conn.execute(sql.QUEUES).fetchall(),
                [type_definition(r) for r in conn.execute(sql.TYPES)],
            )

        return await self._read(read)

    async def define_types(self, types: Sequence[TypeDefinition]) -> list[TypeDefinition]:
        def write(conn: sqlite3.Connection) -> list[TypeDefinition]:
            replaced = []
            for definition in types:
                row = conn.execute(sql.GET_TYPE, (definition.type,)).fetchone()
                if row is not None:
                    before = type_definition(row)
                    if before.same_as(definition):
                        continue
                    if before.defined_by != definition.defined_by:
                        replaced.append(before)
                conn.execute(sql.DEFINE_TYPE, type_row(definition))
            return replaced

        return await self._write(write)

    async def type_definitions(self) -> list[TypeDefinition]:
        def read(conn: sqlite3.Connection) -> list[TypeDefinition]:
            return [type_definition(r) for r in conn.execute(sql.TYPES)]

        return await self._read(read)
