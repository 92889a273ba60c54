"""Where writes run: on the loop when the lock is free at once, else on the writer thread."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from noormme_queue.store.sqlite import SQLiteStore

from ..conftest import wait_until
from .conftest import new_job


async def test_uncontended_writes_commit_on_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db")
    await store.open()
    for _ in range(5):
        await store.enqueue([new_job()])
    writer = store._writer
    assert writer is not None and writer.loop_side_commits == 5
    await store.close()


async def test_writes_issued_in_one_iteration_share_a_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db")
    await store.open()
    before = store.commits
    await asyncio.gather(*(store.enqueue([new_job()]) for _ in range(50)))
    assert store.commits - before == 1
    assert (await store.stats()).pending == 50
    await store.close()


async def test_a_lock_held_elsewhere_sends_writes_to_the_thread_and_the_loop_runs_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    other.execute("INSERT INTO noormme_meta (key, value) VALUES ('x', 'y')")
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    tick = asyncio.create_task(ticker())
    enqueue = asyncio.create_task(store.enqueue([new_job()]))
    await asyncio.sleep(0)
    start = ticks
    # The loop keeps ticking (a write that blocked it would stop the ticker) ...
    await wait_until(lambda: ticks >= start + 10, what="the loop to keep running")
    assert not enqueue.done()  # ... while the enqueue waits for the lock on the writer thread
    other.execute("COMMIT")
    await asyncio.wait_for(enqueue, 10)
    stop.set()
    await tick
    assert (await store.stats()).pending == 1
    other.close()
    await store.close()


async def test_full_synchronous_never_commits_on_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db", synchronous="FULL")
    await store.open()
    await store.enqueue([new_job()])
    writer = store._writer
    assert writer is not None and writer.loop_side_commits == 0 and store.commits == 1
    await store.close()


async def test_large_writes_go_to_the_thread(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db")
    await store.open()
    await store.enqueue([new_job() for _ in range(500)])
    writer = store._writer
    assert writer is not None and writer.loop_side_commits == 0
    await store.close()
