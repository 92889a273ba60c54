"""The database of the queue-and-limit process tests: one SQLite file, or one fresh schema
of the test PostgreSQL server (which must be up: these tests fail, never skip, without it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import fresh_schema


@pytest.fixture(params=["sqlite", "postgres"])
def limits_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        with fresh_schema() as url:
            yield url
