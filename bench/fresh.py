"""Fresh places for one measurement: a PostgreSQL schema or a SQLite file, dropped afterwards.

Only names that every version of the package has are imported here (``bench/trees.py`` runs
these helpers against an older checkout too).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg

DEFAULT_URL = os.environ.get(
    "NOORMME_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``schema`` first on the search_path (how the store picks its schema)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def empty_schema(base: str) -> Iterator[str]:
    """A new, empty schema on the server of ``base`` (dropped afterwards); its name."""
    schema = f"nq_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    try:
        yield schema
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


@contextmanager
def fresh_schema(base: str, *, tables: bool = True) -> Iterator[str]:
    """A new schema, with our tables unless ``tables=False`` (so raw and library write the
    same rows); its URL."""
    with empty_schema(base) as schema:
        url = schema_url(base, schema)
        if tables:
            from noormme_queue.store.postgres import PostgresStore

            async def create() -> None:
                store = PostgresStore(url)
                await store.open()
                await store.close()

            asyncio.run(create())
        yield url


@contextmanager
def fresh_db(*, tables: bool = True) -> Iterator[Path]:
    """A SQLite file in a new temporary folder, with our schema unless ``tables=False``."""
    with tempfile.TemporaryDirectory(prefix="nq-bench-") as tmp:
        path = Path(tmp) / "queue.db"
        if tables:
            from noormme_queue.store.sqlite import SQLiteStore

            async def create() -> None:  # our schema, so raw and library write the same rows
                store = SQLiteStore(path)
                await store.open()
                await store.close()

            asyncio.run(create())
        yield path
