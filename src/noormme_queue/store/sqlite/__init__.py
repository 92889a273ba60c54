"""The SQLite backend: one file in WAL mode, shared safely by many processes."""

from .store import SQLiteStore, sqlite_path_from_url

__all__ = ["SQLiteStore", "sqlite_path_from_url"]
