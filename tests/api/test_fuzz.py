"""Schemathesis against the app's own OpenAPI: no 5xx, and every answer matches its schema.

The manager is not started: jobs are saved but none runs, so no generated webhook or e-mail
ever leaves the machine. Examples are bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.api import create_app

from .conftest import AUTH, TOKEN, ok

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# The schema is loaded when pytest collects this module, so the app exists then; its database
# lives in a directory of its own that the module fixture removes.
_DIR = Path(tempfile.mkdtemp(prefix="noormme-fuzz-"))
_QM = QueueManager(
    QueueConfig(database_url=f"sqlite:///{_DIR / 'fuzz.db'}", cleanup_interval=0, api_token=TOKEN)
)
_QM.register_handler("ok", ok)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_QM))


@pytest.fixture(scope="module", autouse=True)
def _close_manager() -> Iterator[None]:
    yield
    asyncio.run(_QM.stop())
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is never a fluke
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)
