"""Counting a SQLite store's commits from the outside: sqlite3's trace callback on each
connection the store opens, with no counter in the store itself."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from noormme_queue.store.sqlite import SQLiteStore


class Commits:
    """COMMITs per thread: ``on_loop`` (the event loop's fast path, on the test's thread)
    and ``on_thread`` (the writer thread)."""

    def __init__(self, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        """Call before the store opens: it traces the connections it makes from then on."""
        self._by_thread: Counter[str] = Counter()
        self._loop_thread = threading.current_thread().name
        self._lock = threading.Lock()
        for name in ("_connect_writer", "_connect_loop_side"):
            monkeypatch.setattr(store, name, self._traced(getattr(store, name)))

    def _traced(
        self, connect: Callable[[], sqlite3.Connection]
    ) -> Callable[[], sqlite3.Connection]:
        def traced() -> sqlite3.Connection:
            conn = connect()
            conn.set_trace_callback(self._seen)
            return conn

        return traced

    def _seen(self, statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            with self._lock:
                self._by_thread[threading.current_thread().name] += 1

    @property
    def on_loop(self) -> int:
        return self._by_thread[self._loop_thread]

    @property
    def on_thread(self) -> int:
        return self._by_thread["noormme-queue-writer"]

    @property
    def total(self) -> int:
        return sum(self._by_thread.values())
