"""The SQLite backend: one file in WAL mode, shared safely by many processes."""

from .connect import sqlite_path_from_url
from .store import SQLiteStore

__all__ = ["SQLiteStore", "sqlite_path_from_url"]
