"""Cross-process wake-ups: a worker elsewhere hears of new work without polling."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from noormme_queue.store.sqlite import SQLiteStore

from .conftest import new_job


async def test_an_enqueue_by_another_store_wakes_a_listener(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    worker_side, producer_side = SQLiteStore(path), SQLiteStore(path)
    observer_side = SQLiteStore(path)
    for store in (worker_side, producer_side, observer_side):
        await store.open()
    woken, observed = asyncio.Event(), asyncio.Event()
    stop_listening = await worker_side.listen(woken.set)
    stop_observing = await observer_side.listen(observed.set)
    await producer_side.enqueue([new_job()])
    await asyncio.wait_for(woken.wait(), 5)
    await asyncio.wait_for(observed.wait(), 5)
    woken.clear()
    observed.clear()
    # Its own enqueues don't nudge itself. The same commit nudges the observer, and both
    # datagrams would be read in the same turn of this loop: once the observer has woken, a
    # nudge to the worker would have arrived too.
    await worker_side.enqueue([new_job()])
    await asyncio.wait_for(observed.wait(), 5)
    assert not woken.is_set()
    await stop_observing()
    await observer_side.close()
    await stop_listening()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM noormme_listeners").fetchone()[0] == 0
    conn.close()
    await worker_side.close()
    await producer_side.close()


async def test_a_dead_listener_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    producer = SQLiteStore(path)
    await producer.open()
    conn = sqlite3.connect(path)
    conn.execute(  # a worker that was SIGKILLed: its row stays, its socket is gone
        "INSERT INTO noormme_listeners (name, pid, created_at)"
        " VALUES ('noormme-queue-0-dead', 0, 0)"
    )
    conn.commit()
    await producer.enqueue([new_job()])  # the nudge finds nobody there
    await producer.enqueue([new_job()])  # the next write prunes it
    assert conn.execute("SELECT COUNT(*) FROM noormme_listeners").fetchone()[0] == 0
    conn.close()
    await producer.close()


async def test_a_worker_that_starts_listening_is_woken_by_the_very_next_enqueue(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    producer, worker_side = SQLiteStore(path), SQLiteStore(path)
    await producer.open()
    await worker_side.open()
    await producer.enqueue([new_job()])  # the producer has read who listens: nobody yet
    woken = asyncio.Event()
    stop = await worker_side.listen(woken.set)
    await producer.enqueue([new_job()])  # a moment later: the new listener is woken
    await asyncio.wait_for(woken.wait(), 5)
    await stop()
    await worker_side.close()
    await producer.close()
