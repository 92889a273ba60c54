"""``serve`` refuses to expose the API beyond loopback without a token."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from noormme_queue import ConfigError
from noormme_queue.api.server import bind, check_exposure, is_loopback
from noormme_queue.cli import cli


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_exposure(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "queue.example"])
def test_any_other_address_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="QUEUE_API_TOKEN"):
        check_exposure(host, None)
    with pytest.raises(ConfigError):
        check_exposure(host, "")
    check_exposure(host, "a-token")


def test_the_cli_refuses_before_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_API_TOKEN", raising=False)
    result = CliRunner().invoke(
        cli,
        ["--database-url", f"sqlite:///{tmp_path / 'q.db'}", "serve", "--host", "0.0.0.0"],
    )
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without an API token" in result.output
    assert not (tmp_path / "q.db").exists()  # nothing was started


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)
    finally:
        taken.close()
