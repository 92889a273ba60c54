"""Jobs written in the caller's transaction on PostgreSQL (``add_job(connection=...)``): the
store's own enqueue write, run on the caller's psycopg connection. Part of
:class:`PostgresStore`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ...core.errors import InvalidJob, StoreError
from ..base import NewJob
from . import sql
from .connect import Server
from .pool import Conn


class CallerTransactions:
    _identity: tuple[Any, ...]
    _channel: str
    _sender: str
    _server: Server

    def _write_jobs(self, conn: Conn, jobs: Sequence[NewJob], wake: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def translate(self, exc: BaseException) -> StoreError:
        raise NotImplementedError

    def enqueue_on(self, connection: object, jobs: Sequence[NewJob]) -> list[str]:
        """``enqueue``'s write, through the caller's connection to this database and inside
        its transaction. Its ``pg_notify`` is sent when the caller commits (and never if it
        rolls back), tagged so that this process's own worker wakes too."""
        conn = self._own_connection(connection)
        if not jobs:
            return []
        params = {"channel": self._channel, "sender": f"{self._sender}:caller"}
        try:
            return self._write_jobs(conn, jobs, params)
        except psycopg.Error as exc:
            raise self.translate(exc) from exc

    def transaction_open(self, connection: object) -> bool:
        return (
            isinstance(connection, psycopg.Connection)
            and connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        )

    def notify_committed(self) -> None:
        """Nothing to do: the notification of ``enqueue_on`` rides the caller's commit."""

    def _own_connection(self, connection: object) -> Conn:
        if not isinstance(connection, psycopg.Connection):
            raise InvalidJob(
                f"connection= must be a psycopg (3) Connection to the queue's database "
                f"{self._server.where} (or a framework's connection to it), got "
                f"{type(connection).__name__}",
                field="connection",
            )
        try:
            here = tuple(connection.execute(sql.DATABASE_IDENTITY).fetchone() or ())
        except psycopg.Error as exc:
            raise self.translate(exc) from exc
        if here != self._identity:
            raise InvalidJob(
                f"connection= is a connection to database/schema {here[:2]}, but this queue's "
                f"jobs live in {self._identity[:2]} at {self._server.where}; a job can join "
                "only a transaction on the queue's own database (and search_path schema)",
                field="connection",
            )
        return connection
