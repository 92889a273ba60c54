"""One SQL module per dialect, under the same names; no SQL on our tables anywhere else."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path
from types import ModuleType

from noormme_queue.store import rows
from noormme_queue.store.postgres import schema as pg_schema
from noormme_queue.store.postgres import sql as pg_sql
from noormme_queue.store.sqlite import SQLiteStore
from noormme_queue.store.sqlite import schema as sqlite_schema
from noormme_queue.store.sqlite import sql as sqlite_sql

STORE = Path(rows.__file__).parent

# What only one dialect needs, and why.
SQLITE_ONLY = {
    # RETURNING shows the new row, so cancel reads the status it replaces first.
    "LIVE_STATUS",
    # No data-modifying CTEs: forgetting old starts takes a second statement.
    "UNCOUNT_STARTS",
    # No LISTEN/NOTIFY: workers register in noormme_listeners (sqlite/wakeup.py).
    "ADD_LISTENER",
    "REMOVE_LISTENER",
    "LISTENERS",
    # PostgreSQL reads these in a limited claim's first round trip, inside LOCK_LIMITS and
    # PLANNED_CANDIDATES; SQLite's claim runs in process, a statement costs no round trip.
    "READY_PAIRS",
    "CLAIM_CLOCK",
    "FORGET_STARTS",
    # PostgreSQL's triggers count per statement (transition tables); SQLite's count per row,
    # so the statements that change many jobs count themselves (sqlite/tally.py).
    "ENQUEUE_COUNTED",
    "TYPE_QUEUES",
    "ADD_COUNTS",
    "ADD_STARTED",
    "ADD_COMPLETED",
    # Pragmas: the writer connection's settings the doctor reports.
    "JOURNAL_MODE",
    "SYNCHRONOUS",
    "BUSY_TIMEOUT",
}
POSTGRES_ONLY = {
    # Data-modifying CTEs: the four kinds of outcome saved in one round trip, and with a
    # claim of types without limits (a worker's cycle) in one statement.
    "SETTLE",
    "SETTLE_AND_CLAIM",
    # Data-modifying CTEs: a limited claim locks its types' rows, advances the rate clock and
    # forgets old starts in one statement; NOWAIT: saved with a settle it never waits for the
    # types' locks (SQLite's BEGIN IMMEDIATE has no row locks to wait for).
    "LOCK_LIMITS",
    "LOCK_LIMITS_NOWAIT",
    # Every wanted pair's first page with its keys' starts, in one statement; the marks with
    # their starts and the next due time in another.
    "PLANNED_CANDIDATES",
    "CLAIM_PLANNED",
    # LISTEN/NOTIFY wake-ups.
    "NOTIFY",
    "LISTEN",
}
# The same for the schema modules.
SQLITE_SCHEMA_ONLY: set[str] = set()
POSTGRES_SCHEMA_ONLY = {
    # Tables live in the search_path's schema, which names the channel too.
    "CURRENT_SCHEMA",
    # Many servers' processes migrate under an advisory lock, bounded by lock_timeout
    # (SQLite: BEGIN IMMEDIATE and its busy timeout, in sqlite/locks.py).
    "MIGRATION_LOCK",
    "LOCK_MIGRATIONS",
    "LOCK_TIMEOUT",
    # Planner statistics after a bulk load (SQLite's planner needs none: INDEXED BY).
    "ANALYZE",
}


def names(module: ModuleType) -> set[str]:
    return {name for name in vars(module) if name.isupper() and not name.startswith("_")}


def test_both_dialects_name_the_same_statements() -> None:
    sqlite_names, pg_names = names(sqlite_sql), names(pg_sql)
    assert sqlite_names - SQLITE_ONLY == pg_names - POSTGRES_ONLY
    assert SQLITE_ONLY <= sqlite_names and not SQLITE_ONLY & pg_names
    assert POSTGRES_ONLY <= pg_names and not POSTGRES_ONLY & sqlite_names
    sqlite_ddl, pg_ddl = names(sqlite_schema), names(pg_schema)
    assert sqlite_ddl - SQLITE_SCHEMA_ONLY == pg_ddl - POSTGRES_SCHEMA_ONLY
    # SQLite's listeners and its counting statements (tally) against PostgreSQL's one count
    # trigger function per UPDATE
    assert len(sqlite_schema.MIGRATIONS) == len(pg_schema.MIGRATIONS) + 1


def test_every_job_is_selected_with_the_one_column_list() -> None:
    for module in (sqlite_sql, pg_sql):
        selected = re.match(r"SELECT (.*) FROM noormme_jobs", module.GET)
        assert selected is not None
        columns = selected.group(1).replace("::text", "").split(", ")
        assert tuple(columns) == rows.COLUMNS, module.__name__


def test_attempt_records_are_built_in_python_only() -> None:
    # rows.attempt_json writes every attempt; SQL only appends the text it is given.
    for module in (sqlite_sql, pg_sql):
        text = Path(str(module.__file__)).read_text()
        assert "json_object" not in text and "jsonb_build_object" not in text


def test_no_sql_on_our_tables_outside_the_sql_modules() -> None:
    statement = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE)\b[^;]*\bnoormme_", re.I)
    found = []
    for path in sorted(STORE.rglob("*.py")):
        if path.name in ("sql.py", "schema.py"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and statement.search(node.value)
            ):
                found.append(f"{path.relative_to(STORE)}:{node.lineno}")
    assert found == []


async def test_every_sqlite_statement_prepares_on_the_migrated_schema(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "q.db")
    await store.open()
    await store.close()
    statements = [value for name, value in vars(sqlite_sql).items() if name in names(sqlite_sql)]
    texts = [s for s in statements if isinstance(s, str)]
    texts += [sqlite_sql.CLAIM(3), sqlite_sql.COMPLETE(2)]
    flags = (False, True)
    texts += [
        sqlite_sql.LIST_JOBS(n, a, b, c)
        for n in (0, 1, 2)
        for a in flags
        for b in flags
        for c in flags
    ]
    conn = sqlite3.connect(tmp_path / "q.db")
    try:
        for text in texts:
            named = re.findall(r":(\w+)", text)
            plain = len(re.findall(r"\?(?!\d)", text))
            numbered = [int(n) for n in re.findall(r"\?(\d+)", text)]
            params = {n: None for n in named} if named else [None] * max(plain, *numbered, 0)
            conn.execute(f"EXPLAIN {text}", params)
    finally:
        conn.close()
