"""Query plans of the stores' statements, read on the test's own connection.

The statements come from each dialect's ``sql`` module, so a plan test checks exactly
what the store runs; nothing in the store exists for these tests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg


def sqlite_plan(path: Path, statement: str, params: Any = ()) -> str:
    """``EXPLAIN QUERY PLAN`` of ``statement``: its steps joined by `` | ``."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
    finally:
        conn.close()
    return " | ".join(str(r[3]) for r in rows)


def postgres_plan(url: str, statement: str, params: dict[str, Any] | None = None) -> str:
    """``EXPLAIN`` of ``statement`` (planned, never run): its lines joined by newlines."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(f"EXPLAIN {statement}", params).fetchall()
    return "\n".join(str(r[0]) for r in rows)
