"""Reaching the server: what the URL names (shown without its password), how connections
are made, the migration, and errors that name host and database but never the password.

Opening follows the wait rules of every store (``store/base.py``): the migration waits for
the advisory lock another process holds while it migrates, up to ``GIVE_UP_AFTER``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from ...core.errors import ConfigError, SchemaTooNew, StoreCorrupt, StoreError, StoreUnavailable
from .. import base
from . import schema as ddl

CONNECT_TIMEOUT = 10.0  # seconds, unless the URL sets connect_timeout
APPLICATION_NAME = "noormme-queue"


@dataclass(frozen=True)
class Server:
    """A PostgreSQL URL, parsed once."""

    url: str
    where: str
    """``host:port/database``, what every message names."""
    description: str
    """The URL without its password."""
    password: str
    connect_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> Server:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"QUEUE_DATABASE_URL is not a valid PostgreSQL URL: {scrub(str(exc), url)}"
            ) from None
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = int(CONNECT_TIMEOUT)
        if "application_name" not in params:  # what pg_stat_activity shows
            kwargs["application_name"] = APPLICATION_NAME
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        user = params.get("user")
        where = f"{host}:{port}/{params.get('dbname') or user or ''}"
        description = f"postgresql://{f'{user}@' if user else ''}{where}"
        return cls(url, where, description, str(params.get("password") or ""), kwargs)

    def listen_kwargs(self) -> dict[str, Any]:
        """A listener's connection shows up as ``noormme-queue-listen``."""
        if self.connect_kwargs.get("application_name") != APPLICATION_NAME:
            return self.connect_kwargs
        return self.connect_kwargs | {"application_name": f"{APPLICATION_NAME}-listen"}

    def translate(self, exc: BaseException, *, pool_timeout: float, pool_size: int) -> StoreError:
        """Turn a psycopg error into a QueueError naming host and database."""
        if isinstance(exc, StoreError):
            return exc
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        text = scrub(" ".join(lines[:2]), self.password) or type(exc).__name__
        error: StoreError
        if isinstance(exc, PoolTimeout):
            error = StoreUnavailable(
                f"PostgreSQL at {self.where}: no connection within {pool_timeout:g}s "
                f"({text}); is the server up, or are all {pool_size} connections busy?"
            )
        elif isinstance(exc, psycopg.errors.LockNotAvailable):
            error = StoreUnavailable(
                f"PostgreSQL at {self.where}: another connection held a lock for over "
                f"{base.GIVE_UP_AFTER:g}s ({text}); is a long transaction or migration open "
                "elsewhere?"
            )
        elif isinstance(exc, psycopg.OperationalError):
            error = StoreUnavailable(
                f"cannot use PostgreSQL at {self.where}: {text}; check that the server is "
                "running and QUEUE_DATABASE_URL (host, port, database, user, password)"
            )
        else:
            error = StoreError(f"PostgreSQL at {self.where}: {type(exc).__name__}: {text}")
        error.__cause__ = exc
        return error


def migrate(conn: psycopg.Connection[Any], server: Server) -> str:
    """Bring the schema to SCHEMA_VERSION; return the notification channel."""
    with conn.transaction():
        schema = conn.execute(ddl.CURRENT_SCHEMA).fetchone()
        if schema is None or schema[0] is None:
            raise StoreUnavailable(
                f"{server.where}: no schema of the search_path exists; create it "
                "(CREATE SCHEMA ...) or fix options=-csearch_path=... in the URL"
            )
        timeout = f"{int(base.GIVE_UP_AFTER * 1000)}ms"
        conn.execute(ddl.LOCK_TIMEOUT, {"timeout": timeout})
        conn.execute(ddl.LOCK_MIGRATIONS, {"key": ddl.MIGRATION_LOCK})
        conn.execute(ddl.META_DDL)
        row = conn.execute(ddl.READ_VERSION).fetchone()
        version = int(row[0]) if row else 0
        if version > ddl.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{server.description} has queue schema version {version}, but this "
                f"noormme-queue knows only up to {ddl.SCHEMA_VERSION}: upgrade noormme-queue"
            )
        if version == 0 and conn.execute(ddl.JOBS_TABLE_EXISTS).fetchone():
            raise StoreCorrupt(
                f"{server.description} has a noormme_jobs table but no schema version: "
                "refusing to touch a table this library did not create"
            )
        for number in range(version, ddl.SCHEMA_VERSION):
            conn.execute(ddl.MIGRATIONS[number])
        if version != ddl.SCHEMA_VERSION:
            conn.execute(ddl.WRITE_VERSION, {"version": str(ddl.SCHEMA_VERSION)})
    return channel_for(str(schema[0]))


def scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


@cache
def channel_for(schema: str) -> str:
    """The LISTEN/NOTIFY channel: ``noormme_queue``, suffixed outside ``public``."""
    if schema == "public":
        return "noormme_queue"
    name = f"noormme_queue.{schema}"
    if len(name.encode()) > 63:  # identifiers are at most 63 bytes
        name = "noormme_queue." + hashlib.sha256(schema.encode()).hexdigest()[:16]
    return name
