"""Job stores. The backend is chosen by the database URL; drivers load lazily."""

from __future__ import annotations

from ..core.config import QueueConfig
from ..core.errors import ConfigError
from .base import (
    Claim,
    Completed,
    Expired,
    Failed,
    FinishedCount,
    Fire,
    JobStore,
    MinuteActivity,
    NewJob,
    NewSchedule,
    Outcome,
    Released,
    StoredSchedule,
    TypeDefinition,
    WorkerBeat,
)

__all__ = [
    "Claim",
    "Completed",
    "Expired",
    "Failed",
    "FinishedCount",
    "Fire",
    "JobStore",
    "MinuteActivity",
    "NewJob",
    "NewSchedule",
    "Outcome",
    "Released",
    "StoredSchedule",
    "TypeDefinition",
    "WorkerBeat",
    "store_from_config",
]


def store_from_config(config: QueueConfig) -> JobStore:
    url = config.database_url
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore, sqlite_path_from_url

        return SQLiteStore(sqlite_path_from_url(url), synchronous=config.sqlite_synchronous)
    if url.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres.store import PostgresStore
        except ImportError as exc:  # psycopg is the optional `postgres` extra
            raise ConfigError(
                "QUEUE_DATABASE_URL is a PostgreSQL URL, but psycopg is not installed: "
                "pip install 'noormme-queue[postgres]'"
            ) from exc

        return PostgresStore(url)
    raise ConfigError(
        f"QUEUE_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}"
    )
