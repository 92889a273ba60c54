"""The schedule statements' plans on SQLite: due schedules and the next tick come from their
partial index, and the last job's outcome is one primary-key lookup per schedule, however
many jobs the table holds."""

from __future__ import annotations

from pathlib import Path

from noormme_queue.store.sqlite import SQLiteStore, sql

from .plans import sqlite_plan


async def test_schedule_statements_use_their_indexes(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    due = sqlite_plan(path, sql.DUE_SCHEDULES, (0.0, 100))
    assert "USING INDEX noormme_schedules_due" in due and "TEMP B-TREE" not in due
    assert "noormme_schedules_due" in sqlite_plan(path, sql.NEXT_SCHEDULE_AT)
    for statement, params in ((sql.LIST_SCHEDULES, ()), (sql.GET_SCHEDULE, ("x",))):
        plan = sqlite_plan(path, statement, params)
        assert "SEARCH j USING INDEX sqlite_autoindex_noormme_jobs_1 (id=?)" in plan, plan
        assert "SCAN j" not in plan
