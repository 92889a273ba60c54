"""The WAL stays bounded: checkpointed while the loop commits, cut back after a burst
(the strategy: store/sqlite/connect.py, above JOURNAL_SIZE_LIMIT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from noormme_queue.store.sqlite import SQLiteStore, connect

from .conftest import new_job


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_commits_on_the_loop_are_checkpointed_so_the_wal_stays_small(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    peak = 0
    try:
        for _ in range(3_000):  # one small commit each, on the loop's connection
            await store.enqueue([new_job(payload={"filler": "x" * 300})])
            peak = max(peak, wal_size(path))
    finally:
        await store.close()
    # Each commit appends ~6 pages (the row, its indexes, the kept counts). Without the
    # writer thread's checkpoints 3,000 of them would grow the WAL to ~70 MB; with them it
    # holds ~200 commits' worth (~5 MB) at most.
    assert peak < 8 * 1024 * 1024, peak


async def test_a_burst_that_grew_the_wal_is_cut_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connect, "JOURNAL_SIZE_LIMIT", 1024 * 1024)
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    try:
        await store.enqueue([new_job(payload={"filler": "x" * 300}) for _ in range(20_000)])
        grown = wal_size(path)
        assert grown > 4 * 1024 * 1024  # one transaction: the WAL had to hold it all
        for _ in range(3):  # the writer thread checkpointed it; the next commits restart it
            await store.enqueue([new_job() for _ in range(100)])
        assert wal_size(path) <= 1024 * 1024
    finally:
        await store.close()
