"""Where writes run: on the loop when the lock is free at once, else on the writer thread;
and how many share a transaction (commits counted by sqlite3's trace, see commits.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from noormme_queue.store.sqlite import SQLiteStore
from noormme_queue.store.sqlite.inserts import insert_jobs

from ..conftest import wait_until
from .commits import Commits
from .conftest import T0, new_job


async def opened(
    path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str = "NORMAL"
) -> tuple[SQLiteStore, Commits]:
    store = SQLiteStore(path, synchronous=synchronous)
    commits = Commits(store, monkeypatch)
    await store.open()
    assert (commits.on_loop, commits.on_thread) == (0, 0)  # traced from after the migration
    return store, commits


async def test_uncontended_writes_commit_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch)
    for _ in range(5):
        await store.enqueue([new_job()])
    assert (commits.on_loop, commits.on_thread) == (5, 0)
    await store.close()


async def test_writes_issued_in_one_iteration_share_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch)
    await asyncio.gather(*(store.enqueue([new_job()]) for _ in range(50)))
    assert (commits.on_loop, commits.on_thread) == (1, 0)
    assert (await store.stats()).pending == 50
    await store.close()


async def test_two_hundred_concurrent_writes_are_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch)
    await store.enqueue([new_job()])
    before = commits.total
    await asyncio.gather(*(store.enqueue([new_job(run_at=T0 + i)]) for i in range(200)))
    # All 200 were submitted in one iteration of the loop: one transaction, on the loop.
    assert commits.total - before == 1
    assert (await store.stats()).pending == 201
    await store.close()


async def test_a_lock_held_elsewhere_sends_writes_to_the_thread_and_the_loop_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    store, commits = await opened(path, monkeypatch)
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
    assert (commits.on_loop, commits.on_thread) == (0, 1)
    other.close()
    await store.close()


async def test_full_synchronous_never_commits_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch, synchronous="FULL")
    await store.enqueue([new_job()])
    assert (commits.on_loop, commits.on_thread) == (0, 1)
    await store.close()


async def test_large_writes_go_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch)
    await store.enqueue([new_job() for _ in range(500)])
    assert (commits.on_loop, commits.on_thread) == (0, 1)
    await store.close()


async def test_a_failing_write_is_undone_alone_and_its_transaction_commits_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, commits = await opened(tmp_path / "q.db", monkeypatch)
    good, bad, later = new_job(), new_job(), new_job()

    def half_done(conn: sqlite3.Connection) -> None:
        insert_jobs(conn, [bad])
        raise ValueError("a request that fails after writing")

    results = await asyncio.gather(
        store._write(lambda conn: insert_jobs(conn, [good])),
        store._write(half_done),
        store._write(lambda conn: insert_jobs(conn, [later])),
        return_exceptions=True,
    )
    assert results[0] == [good.id] and results[2] == [later.id]
    assert isinstance(results[1], ValueError)
    assert commits.total == 1  # still one transaction for the three
    assert await store.get(bad.id) is None
    assert [await store.get(j.id) is not None for j in (good, later)] == [True, True]
    assert (await store.stats()).pending == 2  # the kept counts undone with the row
    await store.close()
