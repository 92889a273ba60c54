"""How long SQLite work waits for a lock another connection holds: the same for every write
and for opening the store (its migration is a write).

SQLite's own ``busy_timeout`` waits :data:`BUSY_TIMEOUT` for the lock and then answers
"database is locked"; :func:`wait_for_lock` tries again, logging a warning each time, until
:data:`~noormme_queue.store.base.GIVE_UP_AFTER` has passed, so a long transaction elsewhere
delays callers instead of failing them. Only the event loop's fast path never waits: it
hands the write to the writer thread instead.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from .. import base

log = logging.getLogger("noormme_queue.store")

T = TypeVar("T")

BUSY_TIMEOUT = 5.0  # seconds SQLite itself waits for a lock before answering "busy"


class LockBusy(Exception):
    """The lock was taken and the caller may not wait (the event loop's fast path)."""


def is_busy(exc: sqlite3.Error) -> bool:
    # Extended codes (SQLITE_BUSY_RECOVERY, _SNAPSHOT, ...) are busy too.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


def wait_for_lock(step: Callable[[], T], *, wait: bool = True) -> T:
    """``step()``, tried again while another connection holds the lock it needs.

    Without ``wait``, a busy lock raises :class:`LockBusy` at once (set the connection's
    busy timeout to zero too). The last "database is locked" error is raised once
    ``GIVE_UP_AFTER`` seconds have passed.
    """
    deadline = time.monotonic() + base.GIVE_UP_AFTER
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if not wait:
                raise LockBusy from exc
            if time.monotonic() > deadline:
                raise
            log.warning("database busy for a long time; still waiting for the write lock")
