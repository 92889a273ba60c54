"""Jobs written in the caller's transaction on SQLite (``add_job(connection=...)``): the
store's own enqueue write, run on the caller's connection to the queue's file. Part of
:class:`SQLiteStore`."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ...core.errors import InvalidJob, StoreError
from ..base import NewJob
from . import sql
from .inserts import insert_jobs
from .wakeup import WakeupBus


class CallerTransactions:
    path: Path
    _bus: WakeupBus

    def _refresh_listeners(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def translate(self, exc: BaseException) -> StoreError:
        raise NotImplementedError

    def enqueue_on(self, connection: object, jobs: Sequence[NewJob]) -> list[str]:
        """``enqueue``'s write, through the caller's connection to this file and inside its
        transaction; the caller commits (then :meth:`notify_committed`) or rolls back."""
        conn = self._own_connection(connection)
        try:
            self._refresh_listeners(conn)
            return insert_jobs(conn, jobs)
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc

    def transaction_open(self, connection: object) -> bool:
        return isinstance(connection, sqlite3.Connection) and connection.in_transaction

    def notify_committed(self) -> None:
        self._bus.nudge()

    def _own_connection(self, connection: object) -> sqlite3.Connection:
        if not isinstance(connection, sqlite3.Connection):
            raise InvalidJob(
                f"connection= must be a sqlite3.Connection to the queue's file {self.path} "
                f"(or a framework's connection to it), got {type(connection).__name__}",
                field="connection",
            )
        try:
            row = connection.execute(sql.DATABASE_IDENTITY).fetchone()
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        file = row[0] if row else ""
        if not file or not _same_file(file, self.path):
            raise InvalidJob(
                f"connection= is a connection to {file or 'an in-memory database'}, but this "
                f"queue's jobs live in {self.path}; a job can join only a transaction on the "
                "queue's own database",
                field="connection",
            )
        return connection


def _same_file(name: str, path: Path) -> bool:
    try:
        return os.path.samefile(name, path)
    except OSError:
        return False
