"""``JobStore.enqueue_on`` in the conformance suite, on both backends: enqueue's own write
through the caller's connection, in its transaction (unique keys and claims included)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest

from noormme_queue import InvalidJob
from noormme_queue.store import JobStore
from noormme_queue.store.postgres import PostgresStore
from noormme_queue.store.sqlite import SQLiteStore

from ..pg import fresh_schema
from .conftest import T0, new_job


def caller_connection(store: JobStore) -> Any:
    """A connection of the application's own, to the store's database."""
    if isinstance(store, SQLiteStore):
        return sqlite3.connect(store.path)
    assert isinstance(store, PostgresStore)
    return psycopg.connect(store.url)


async def test_rolled_back_writes_nothing_committed_is_a_job(store: JobStore) -> None:
    conn = caller_connection(store)
    try:
        dropped = new_job(payload={"n": 1})
        assert store.enqueue_on(conn, [dropped]) == [dropped.id]
        assert store.transaction_open(conn)
        assert await store.get(dropped.id) is None  # not visible outside the transaction
        conn.rollback()
        assert await store.get(dropped.id) is None
        kept = new_job(payload={"n": 2}, priority=4)
        assert store.enqueue_on(conn, [kept]) == [kept.id]
        conn.commit()
        store.notify_committed()
        assert not store.transaction_open(conn)
        job = await store.get(kept.id)
        assert job is not None and job.payload == {"n": 2} and job.priority == 4
        claim = await store.claim(["t"], 5, now=T0 + 1, lease_until=T0 + 30, worker_id="w")
        assert [j.id for j in claim.jobs] == [kept.id]  # an ordinary job from now on
    finally:
        conn.close()


async def test_a_live_unique_key_wins_inside_the_transaction_too(store: JobStore) -> None:
    first = new_job(unique_key="k")
    (existing,) = await store.enqueue([first])
    conn = caller_connection(store)
    try:
        assert store.enqueue_on(conn, [new_job(unique_key="k")]) == [existing]
        conn.commit()
    finally:
        conn.close()
    assert (await store.stats()).total == 1


async def test_a_connection_to_another_database_is_refused(store: JobStore, tmp_path: Any) -> None:
    if isinstance(store, SQLiteStore):
        other: Any = sqlite3.connect(tmp_path / "elsewhere.db")
        with pytest.raises(InvalidJob) as caught:
            store.enqueue_on(other, [new_job()])
        other.close()
    else:
        with fresh_schema() as url, psycopg.connect(url) as other:
            with pytest.raises(InvalidJob) as caught:
                store.enqueue_on(other, [new_job()])
    assert caught.value.field == "connection"
    with pytest.raises(InvalidJob, match="connection="):
        store.enqueue_on(object(), [new_job()])
    assert (await store.stats()).total == 0
