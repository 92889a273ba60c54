"""Enqueue inside the caller's transaction: the job exists if and only if the caller commits.

``add_job(..., connection=conn)`` writes through ``conn`` with the store's own enqueue write
(``JobStore.enqueue_on``). ``conn`` is a DB-API connection to the queue's database, or a
framework's wrapper of one: anything with ``ensure_connection()``, a ``connection``
attribute and ``on_commit(callback)`` (Django's ``django.db.connection``), whose commit hook
then wakes the workers. With a bare connection, workers are woken at once when the write is
already committed (autocommit), and otherwise by ``notify_committed`` after the caller's
commit, or by their next poll (``QUEUE_INTERVAL``); PostgreSQL's notification rides the
commit itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..store import JobStore, NewJob

OnCommit = Callable[[Callable[[], None]], Any]


def unwrap(connection: object) -> tuple[object, OnCommit | None]:
    """The DB-API connection to write through, and the framework's commit hook (if any)."""
    ensure = getattr(connection, "ensure_connection", None)
    on_commit = getattr(connection, "on_commit", None)
    if callable(ensure) and callable(on_commit):
        ensure()
        return connection.connection, on_commit  # type: ignore[attr-defined]
    return connection, None


def enqueue_through(
    store: JobStore, connection: object, jobs: Sequence[NewJob], committed: Callable[[], None]
) -> list[str]:
    """Write ``jobs`` in the caller's transaction; call ``committed`` once they are
    visible to others (now, or from the framework's commit hook)."""
    raw, on_commit = unwrap(connection)
    ids = store.enqueue_on(raw, jobs)
    if on_commit is not None:
        on_commit(committed)  # runs at once outside a transaction, never after a rollback
    elif not store.transaction_open(raw):
        committed()
    return ids
